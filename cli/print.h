/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One print call per field, for text and JSON at once (iproute2's
 * json_print): text and -j output cannot drift apart.
 */
#ifndef SLUICE_CLI_PRINT_H
#define SLUICE_CLI_PRINT_H

#include <stdbool.h>
#include <stdint.h>

void print_init(bool json, bool pretty);
bool print_json(void);
/* key NULL inside an array. Objects and arrays print nothing in text. */
void print_open_object(const char *key);
void print_close_object(void);
void print_open_array(const char *key);
void print_close_array(void);
/* Text: fmt with the value (a label inside fmt if wanted); JSON: "key": value. */
void print_string(const char *key, const char *fmt, const char *v);
void print_u64(const char *key, const char *fmt, uint64_t v);
/* JSON: a number with 3 decimals; text: fmt with it to 1 decimal. */
void print_double(const char *key, const char *fmt, double v);
/* JSON: "key": true/false; text: fmt (no conversion) when given. */
void print_bool(const char *key, const char *fmt, bool v);
/* Text only. */
void print_text(const char *s);
/* Flush the JSON document (a newline at the end). */
void print_finish(void);

#endif
