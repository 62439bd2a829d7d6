/*
 * forkcheck MODULE: a forked child must see CKR_CRYPTOKI_NOT_INITIALIZED
 * until it calls C_Initialize, and the parent must go on unaffected.
 * Compiled and run by TestForkedChildProcess. Exit status 0 means all held;
 * otherwise the message on stderr says what did not.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11.h"

static CK_FUNCTION_LIST_PTR p11;

static int expect(const char *who, const char *what, CK_RV got, CK_RV want)
{
	if (got == want)
		return 0;
	fprintf(stderr, "%s: %s = 0x%lx, want 0x%lx\n", who, what, (unsigned long)got, (unsigned long)want);
	return 1;
}

int main(int argc, char **argv)
{
	CK_C_GetFunctionList get;
	CK_INFO info;
	void *lib;
	pid_t pid;
	int status, bad = 0;

	if (argc != 2)
		return 2;
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	if (get == NULL || get(&p11) != CKR_OK)
		return 2;
	bad |= expect("parent", "C_Initialize", p11->C_Initialize(NULL), CKR_OK);
	bad |= expect("parent", "C_GetInfo", p11->C_GetInfo(&info), CKR_OK);
	fflush(stderr);

	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		alarm(20); /* a hung child fails the test instead of stalling it */
		bad |= expect("child", "C_GetInfo before C_Initialize", p11->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
		bad |= expect("child", "C_Finalize before C_Initialize", p11->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
		bad |= expect("child", "C_Initialize", p11->C_Initialize(NULL), CKR_OK);
		bad |= expect("child", "C_GetInfo after C_Initialize", p11->C_GetInfo(&info), CKR_OK);
		bad |= expect("child", "C_Initialize again", p11->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
		bad |= expect("child", "C_Finalize", p11->C_Finalize(NULL), CKR_OK);
		fflush(stderr);
		_exit(bad);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 2;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "child failed (wait status 0x%x)\n", status);
		bad = 1;
	}
	bad |= expect("parent", "C_GetInfo after the fork", p11->C_GetInfo(&info), CKR_OK);
	bad |= expect("parent", "C_Finalize", p11->C_Finalize(NULL), CKR_OK);
	return bad;
}
