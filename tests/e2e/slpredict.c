// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * slpredict: which backend the data path must pick for a new flow, computed
 * in userspace from the config with the daemon's own config and Maglev code
 * and the shared hashes (include/sluice/hash.h).
 *
 *   slpredict CONFIG SERVICE SRC SPORT...    one "SPORT BACKEND" line each;
 *                                            SPORT may be a range P-Q
 *   slpredict CONFIG SERVICE -               reads "SRC SPORT" lines, prints
 *                                            "SRC SPORT BACKEND"
 *
 * The flow is SRC:SPORT -> VIP:PORT of SERVICE, keyed exactly as the client
 * sends it. BACKEND is the first Maglev candidate's address ("-" when the
 * service has no backend with weight): with every backend healthy and no
 * limit reached, the data path takes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sluice/maps.h>
#include "config.h"
#include "maglev.h"

struct predictor {
	const struct sl_cfg_service *svc;
	__u32 M;
	__u32 *table;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: slpredict CONFIG SERVICE SRC SPORT[-SPORT]...\n"
		"       slpredict CONFIG SERVICE -      (\"SRC SPORT\" lines on stdin)\n");
	exit(2);
}

static int predictor_init(struct predictor *p, const struct sl_cfg_service *svc)
{
	struct sl_maglev_backend *bks;
	unsigned i;
	int err;

	p->svc = svc;
	p->M = svc->maglev_size ? svc->maglev_size : sl_maglev_default_size(svc->nr_backends);
	p->table = calloc(p->M ? p->M : 1, sizeof(*p->table));
	bks = calloc(svc->nr_backends ? svc->nr_backends : 1, sizeof(*bks));
	if (!p->table || !bks) {
		free(bks);
		return -ENOMEM;
	}
	for (i = 0; i < svc->nr_backends; i++) {
		bks[i].addr = svc->backends[i].addr;
		bks[i].weight = svc->backends[i].weight;
		bks[i].id = i + 1;
	}
	err = sl_maglev_build(bks, svc->nr_backends, p->M, p->table);
	free(bks);
	return err;
}

/* Parse SRC into the key's src words; the key's family must match. */
static int key_src(struct sl_flow_key *k, const char *src)
{
	memset(k->src, 0, sizeof(k->src));
	if (k->family == SL_AF_INET)
		return inet_pton(AF_INET, src, k->src) == 1 ? 0 : -EINVAL;
	return inet_pton(AF_INET6, src, k->src) == 1 ? 0 : -EINVAL;
}

/* Backend address for a flow from src:sport, into buf. */
static int predict(const struct predictor *p, const char *src, unsigned sport,
		   char *buf, size_t len)
{
	const struct sl_cfg_service *s = p->svc;
	struct sl_flow_key k;
	struct sl_l4addr a;
	char ip[INET6_ADDRSTRLEN];
	__u32 id;

	memset(&k, 0, sizeof(k));
	memcpy(k.dst, s->vip.addr, sizeof(k.dst));
	k.sport = htons(sport);
	k.dport = s->vip.port;
	k.proto = s->vip.proto;
	k.family = s->vip.family;
	if (key_src(&k, src)) {
		fprintf(stderr, "slpredict: '%s' is not an IPv%u address (the VIP's family)\n",
			src, s->vip.family);
		return -EINVAL;
	}
	id = sl_maglev_candidate(p->table, p->M, &k, 0);
	if (id == 0 || id > s->nr_backends) {
		snprintf(buf, len, "-");
		return 0;
	}
	a = s->backends[id - 1].addr;
	inet_ntop(a.family == SL_AF_INET ? AF_INET : AF_INET6, a.addr, ip, sizeof(ip));
	snprintf(buf, len, "%s", ip);
	return 0;
}

static int parse_port(const char *s, unsigned *out, char **end)
{
	unsigned long v;

	errno = 0;
	v = strtoul(s, end, 10);
	if (errno || *end == s || v == 0 || v > 65535)
		return -EINVAL;
	*out = v;
	return 0;
}

static int from_args(const struct predictor *p, const char *src, char **ports, int n)
{
	char out[INET6_ADDRSTRLEN];
	unsigned lo, hi, port;
	char *end;
	int i;

	for (i = 0; i < n; i++) {
		if (parse_port(ports[i], &lo, &end))
			goto bad;
		hi = lo;
		if (*end == '-' && parse_port(end + 1, &hi, &end))
			goto bad;
		if (*end != '\0' || hi < lo)
			goto bad;
		for (port = lo; port <= hi; port++) {
			if (predict(p, src, port, out, sizeof(out)))
				return 1;
			printf("%u %s\n", port, out);
		}
		continue;
bad:
		fprintf(stderr, "slpredict: bad port or range '%s'\n", ports[i]);
		return 1;
	}
	return 0;
}

static int from_stdin(const struct predictor *p)
{
	char line[256], src[INET6_ADDRSTRLEN + 1], out[INET6_ADDRSTRLEN];
	unsigned sport, lineno = 0;

	while (fgets(line, sizeof(line), stdin)) {
		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, "%46s %u", src, &sport) != 2 || !sport || sport > 65535) {
			fprintf(stderr, "slpredict: stdin:%u: expected \"SRC SPORT\"\n", lineno);
			return 1;
		}
		if (predict(p, src, sport, out, sizeof(out)))
			return 1;
		printf("%s %u %s\n", src, sport, out);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct sl_cfg_service *svc;
	struct sl_config *cfg = NULL;
	struct predictor p = { 0 };
	char err[512];
	int rc;

	if (argc < 4 || (strcmp(argv[3], "-") && argc < 5))
		usage();
	if (sl_config_load_file(argv[1], &cfg, err, sizeof(err))) {
		fprintf(stderr, "slpredict: %s\n", err);
		return 1;
	}
	svc = sl_config_find_service(cfg, argv[2]);
	if (!svc) {
		fprintf(stderr, "slpredict: %s: no service named '%s'\n", argv[1], argv[2]);
		return 1;
	}
	rc = predictor_init(&p, svc);
	if (rc) {
		fprintf(stderr, "slpredict: building the Maglev table: %s\n", strerror(-rc));
		return 1;
	}
	if (!strcmp(argv[3], "-"))
		rc = from_stdin(&p);
	else
		rc = from_args(&p, argv[3], argv + 4, argc - 4);
	free(p.table);
	sl_config_free(cfg);
	return rc;
}
