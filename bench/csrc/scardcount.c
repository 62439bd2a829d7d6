/*
 * scardcount.c - a counting stand-in for libpcsclite.so.1. Every SCard*
 * call is counted and forwarded to the real library; at exit (or when the
 * library is unloaded) the counts are appended, one "name count" pair per
 * line and an "end" line, to the file named by SCARDCOUNT_FILE.
 *
 * The bench command compiles it at run time as <dir>/libpcsclite.so.1 and
 * runs clients with LD_LIBRARY_PATH=<dir>: that catches modules that link
 * libpcsclite (ours, through ebfe/scard) and those that dlopen it by name
 * and look the functions up in that handle (the C++ module's libckyapplet,
 * OpenSC), which LD_PRELOAD would miss.
 *
 * With SCARDCOUNT_TRACE set, each call's name also goes to stderr, to be
 * read next to a PKCS#11 call log (pkcs11-spy writes to stderr too).
 *
 * Each call is one request to pcscd except SCardFreeMemory and
 * SCardIsValidContext, which pcsc-lite answers in the client; they are
 * counted but reported apart.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <PCSC/winscard.h>

#ifndef REAL_PCSCLITE
#define REAL_PCSCLITE "/usr/lib/x86_64-linux-gnu/libpcsclite.so.1.0.0"
#endif

/* The protocol control blocks clients take the address of (SCARD_PCI_T0…). */
const SCARD_IO_REQUEST g_rgSCardT0Pci = {SCARD_PROTOCOL_T0, sizeof(SCARD_IO_REQUEST)};
const SCARD_IO_REQUEST g_rgSCardT1Pci = {SCARD_PROTOCOL_T1, sizeof(SCARD_IO_REQUEST)};
const SCARD_IO_REQUEST g_rgSCardRawPci = {SCARD_PROTOCOL_RAW, sizeof(SCARD_IO_REQUEST)};

enum {
	F_EstablishContext, F_ReleaseContext, F_IsValidContext, F_Connect, F_Reconnect, F_Disconnect,
	F_BeginTransaction, F_EndTransaction, F_Status, F_GetStatusChange, F_Control, F_Transmit,
	F_ListReaderGroups, F_ListReaders, F_FreeMemory, F_Cancel, F_GetAttrib, F_SetAttrib, F_count
};

static const char *names[F_count] = {
	"SCardEstablishContext", "SCardReleaseContext", "SCardIsValidContext", "SCardConnect",
	"SCardReconnect", "SCardDisconnect", "SCardBeginTransaction", "SCardEndTransaction",
	"SCardStatus", "SCardGetStatusChange", "SCardControl", "SCardTransmit",
	"SCardListReaderGroups", "SCardListReaders", "SCardFreeMemory", "SCardCancel",
	"SCardGetAttrib", "SCardSetAttrib",
};

static unsigned long counts[F_count];
static void *real;

static void *real_fn(int f)
{
	static void *fns[F_count];
	if (fns[f] == NULL) {
		if (real == NULL)
			real = dlopen(REAL_PCSCLITE, RTLD_NOW | RTLD_LOCAL);
		if (real == NULL) {
			fprintf(stderr, "scardcount: %s\n", dlerror());
			abort();
		}
		fns[f] = dlsym(real, names[f]);
		if (fns[f] == NULL) {
			fprintf(stderr, "scardcount: no %s\n", names[f]);
			abort();
		}
	}
	__atomic_add_fetch(&counts[f], 1, __ATOMIC_RELAXED);
	if (getenv("SCARDCOUNT_TRACE") != NULL)
		fprintf(stderr, "scardcount: %s\n", names[f]);
	return fns[f];
}

/*
 * scardcount_requests returns the calls so far that reached pcscd, for a
 * harness that finds this library with dlopen("libpcsclite.so.1",
 * RTLD_NOLOAD).
 */
unsigned long scardcount_requests(void)
{
	unsigned long n = 0;
	int i;
	for (i = 0; i < F_count; i++)
		if (i != F_FreeMemory && i != F_IsValidContext)
			n += __atomic_load_n(&counts[i], __ATOMIC_RELAXED);
	return n;
}

__attribute__((destructor)) static void report(void)
{
	char line[128];
	int i, fd, n;
	const char *path = getenv("SCARDCOUNT_FILE");
	if (path == NULL || *path == 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0)
		return;
	for (i = 0; i < F_count; i++) {
		if (counts[i] == 0)
			continue;
		n = snprintf(line, sizeof line, "%s %lu\n", names[i], counts[i]);
		if (write(fd, line, n) != n)
			break;
	}
	if (write(fd, "end\n", 4) != 4) {
		/* nothing more to do */
	}
	close(fd);
}

#define FORWARD(f, params, args)                                                   \
	LONG SCard##f params                                                       \
	{                                                                          \
		return ((LONG(*) params)real_fn(F_##f))args;                       \
	}

FORWARD(EstablishContext, (DWORD a, LPCVOID b, LPCVOID c, LPSCARDCONTEXT d), (a, b, c, d))
FORWARD(ReleaseContext, (SCARDCONTEXT a), (a))
FORWARD(IsValidContext, (SCARDCONTEXT a), (a))
FORWARD(Connect, (SCARDCONTEXT a, LPCSTR b, DWORD c, DWORD d, LPSCARDHANDLE e, LPDWORD f), (a, b, c, d, e, f))
FORWARD(Reconnect, (SCARDHANDLE a, DWORD b, DWORD c, DWORD d, LPDWORD e), (a, b, c, d, e))
FORWARD(Disconnect, (SCARDHANDLE a, DWORD b), (a, b))
FORWARD(BeginTransaction, (SCARDHANDLE a), (a))
FORWARD(EndTransaction, (SCARDHANDLE a, DWORD b), (a, b))
FORWARD(Status, (SCARDHANDLE a, LPSTR b, LPDWORD c, LPDWORD d, LPDWORD e, LPBYTE f, LPDWORD g), (a, b, c, d, e, f, g))
FORWARD(GetStatusChange, (SCARDCONTEXT a, DWORD b, SCARD_READERSTATE *c, DWORD d), (a, b, c, d))
FORWARD(Control, (SCARDHANDLE a, DWORD b, LPCVOID c, DWORD d, LPVOID e, DWORD f, LPDWORD g), (a, b, c, d, e, f, g))
FORWARD(Transmit, (SCARDHANDLE a, const SCARD_IO_REQUEST *b, LPCBYTE c, DWORD d, SCARD_IO_REQUEST *e, LPBYTE f, LPDWORD g), (a, b, c, d, e, f, g))
FORWARD(ListReaderGroups, (SCARDCONTEXT a, LPSTR b, LPDWORD c), (a, b, c))
FORWARD(ListReaders, (SCARDCONTEXT a, LPCSTR b, LPSTR c, LPDWORD d), (a, b, c, d))
FORWARD(FreeMemory, (SCARDCONTEXT a, LPCVOID b), (a, b))
FORWARD(Cancel, (SCARDCONTEXT a), (a))
FORWARD(GetAttrib, (SCARDHANDLE a, DWORD b, LPBYTE c, LPDWORD d), (a, b, c, d))
FORWARD(SetAttrib, (SCARDHANDLE a, DWORD b, LPCBYTE c, DWORD d), (a, b, c, d))

const char *pcsc_stringify_error(const LONG err)
{
	static const char *(*f)(const LONG);
	if (f == NULL) {
		if (real == NULL)
			real = dlopen(REAL_PCSCLITE, RTLD_NOW | RTLD_LOCAL);
		if (real == NULL || (f = (const char *(*)(const LONG))dlsym(real, "pcsc_stringify_error")) == NULL)
			return "unknown PC/SC error";
	}
	return f(err);
}
