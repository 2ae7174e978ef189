// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <inttypes.h>
#include <stdio.h>

#include "print.h"

#define DEPTH_MAX 16

static bool json, pretty;
static int depth;
static bool first[DEPTH_MAX];   /* nothing printed yet at this level */

void print_init(bool j, bool p)
{
	json = j;
	pretty = p;
	depth = 0;
	first[0] = true;
}

bool print_json(void)
{
	return json;
}

static void indent(void)
{
	if (!pretty)
		return;
	putchar('\n');
	for (int i = 0; i < depth; i++)
		fputs("  ", stdout);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* Separator, indentation and key of the next member. */
static void member(const char *key)
{
	if (!first[depth])
		putchar(',');
	first[depth] = false;
	if (depth)
		indent();
	if (key) {
		json_str(key);
		fputs(pretty ? ": " : ":", stdout);
	}
}

static void open_(const char *key, char c)
{
	if (!json)
		return;
	member(key);
	putchar(c);
	if (depth < DEPTH_MAX - 1)
		first[++depth] = true;
}

static void close_(char c)
{
	bool empty;

	if (!json)
		return;
	empty = first[depth];
	if (depth)
		depth--;
	if (!empty)
		indent();
	putchar(c);
}

void print_open_object(const char *key) { open_(key, '{'); }
void print_close_object(void) { close_('}'); }
void print_open_array(const char *key) { open_(key, '['); }
void print_close_array(void) { close_(']'); }

void print_string(const char *key, const char *fmt, const char *v)
{
	if (json) {
		member(key);
		json_str(v);
	} else if (fmt) {
		printf(fmt, v);
	}
}

void print_u64(const char *key, const char *fmt, uint64_t v)
{
	char buf[32];

	if (json) {
		member(key);
		printf("%" PRIu64, v);
	} else if (fmt) {
		snprintf(buf, sizeof(buf), "%" PRIu64, v);
		printf(fmt, buf);
	}
}

void print_double(const char *key, const char *fmt, double v)
{
	char buf[48];

	if (json) {
		member(key);
		/* JSON has no NaN or infinity; a rate is finite and >= 0 */
		printf("%.3f", v == v && v < 1e300 ? v : 0.0);
	} else if (fmt) {
		snprintf(buf, sizeof(buf), "%.1f", v);
		printf(fmt, buf);
	}
}

void print_bool(const char *key, const char *fmt, bool v)
{
	if (json) {
		member(key);
		fputs(v ? "true" : "false", stdout);
	} else if (fmt) {
		fputs(fmt, stdout);
	}
}

void print_text(const char *s)
{
	if (!json)
		fputs(s, stdout);
}

void print_finish(void)
{
	if (json)
		putchar('\n');
	fflush(stdout);
}
