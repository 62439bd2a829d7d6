/* Calls the racy Go function of racecheck.go. */
#include <stdio.h>

extern int Race(void);

int main(void)
{
	printf("%d\n", Race());
	return 0;
}
