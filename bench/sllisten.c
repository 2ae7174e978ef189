// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sllisten PORT: the backends of bench/scale.sh. Listens on 0.0.0.0:PORT
 * (with a local route for a whole prefix, that is every address in it),
 * accepts and closes, forever, one thread. A TCP check only needs the
 * handshake; accepting keeps the backlog from filling.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int one = 1, fd;

	if (argc != 2) {
		fprintf(stderr, "usage: sllisten PORT\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		perror("sllisten");
		return 1;
	}
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE && errno != ENFILE)
			return perror("sllisten: accept"), 1;
	}
}
