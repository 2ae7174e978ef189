/* tests/run.sh (SL_SANITIZE=1) runs this first: a program that leaks one
 * block on purpose. If LeakSanitizer does not report it (LSan cannot stop
 * the world under some sandboxes: no ptrace), the run says so and goes on
 * with detect_leaks=0 rather than pass silently. */
#include <stdlib.h>

void *volatile sl_probe_leak;

int main(void)
{
	sl_probe_leak = malloc(42);
	sl_probe_leak = NULL;
	return 0;
}
