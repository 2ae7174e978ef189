// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness: arbitrary bytes as sluice.conf text through
 * sl_config_load_string (daemon/config.c, libconfig underneath).
 *
 * Beyond "no crash, no leak, no undefined behaviour" it holds the parser
 * to its contract (config.h):
 *  - refused: a negative errno (-EINVAL or -ENOMEM), *out untouched, and
 *    an error "NAME:LINE: message" with LINE >= 1; an error buffer too
 *    small for the message is never overrun;
 *  - accepted: every value within the bounds sluice.conf(5) gives, names,
 *    VIPs and backends unique (tests/fuzz/fuzz.h); the same text parses
 *    to the same hash; sl_config_validate, the rules runtime changes
 *    obey, accepts it too and computes the same hash; every service's
 *    Maglev table builds (what sluiced does next with the config).
 *
 * Input with a NUL byte is refused up front, as sl_config_load_file does.
 * Build and run: `make fuzz` (tests/fuzz/README.md).
 */
#define FUZZ_NAME "fuzz_config"

#include <errno.h>
#include <stdint.h>

#include "fuzz.h"

#define NAME "fuzz.conf"

/* Maglev tables of at most this many slots in all are built per input:
 * a few 65537-slot tables are fine, hundreds would slow fuzzing down. */
#define MAGLEV_BUDGET (4u * 65537)

/* "NAME:LINE: text" with LINE a positive decimal and some text. */
static int well_formed_error(const char *err)
{
	const char *p;
	size_t n = strlen(NAME);

	if (strncmp(err, NAME ":", n + 1))
		return 0;
	p = err + n + 1;
	if (!isdigit((unsigned char)*p) || *p == '0')
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return p[0] == ':' && p[1] == ' ' && p[2];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_config *c = NULL, *c2 = NULL, *const sentinel = (struct sl_config *)&c;
	char err[512], small[12];
	char *text;
	__u64 hash;
	int rc, rc2;

	if (memchr(data, 0, size))
		return -1;              /* not a text file: the file loader refuses it */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;

	memset(err, 'x', sizeof(err));
	c = sentinel;
	rc = sl_config_load_string(text, NAME, &c, err, sizeof(err));
	if (rc) {
		CHECK(rc == -EINVAL || rc == -ENOMEM);
		CHECK(c == sentinel);   /* *out untouched */
		CHECK(fz_terminated(err, sizeof(err)));
		if (rc == -EINVAL && !well_formed_error(err)) {
			fprintf(stderr, FUZZ_NAME ": malformed error message: '%s'\n", err);
			abort();
		}
		/* the same error into a buffer too small for it: cut, never overrun */
		memset(small, 'x', sizeof(small));
		c2 = sentinel;
		rc2 = sl_config_load_string(text, NAME, &c2, small, sizeof(small));
		CHECK(rc2 == rc && c2 == sentinel && fz_terminated(small, sizeof(small)));
	} else {
		CHECK(c && c != sentinel);
		CHECK(!strcmp(c->file, NAME));
		CHECK(fz_terminated(c->control_group, sizeof(c->control_group)));
		fz_check_config(c, 0, MAGLEV_BUDGET);
		/* deterministic: the same text, the same config hash */
		rc2 = sl_config_load_string(text, "other", &c2, err, sizeof(err));
		CHECK(rc2 == 0 && c2->hash == c->hash && c2->nr_services == c->nr_services);
		/* the file's rules and the runtime changes' rules agree */
		hash = c2->hash;
		rc2 = sl_config_validate(c2, err, sizeof(err));
		if (rc2)
			fprintf(stderr, FUZZ_NAME ": accepted from the file, refused by sl_config_validate: %s\n", err);
		CHECK(rc2 == 0 && c2->hash == hash);
		sl_config_free(c2);
		sl_config_free(c);
	}
	free(text);
	return 0;
}
