package pkcs11mod

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The headers in include/ are written for this project; these tests hold
// them to two independent headers installed on Debian: NSS's (PKCS#11 3.0)
// and p11-kit's (2.40). Values and structure layouts must agree wherever a
// name exists in both.

const includeDir = "../include"

// otherHeaders are the reference headers: the include directories and the
// #include lines.
var otherHeaders = map[string]struct {
	dirs     []string
	includes []string
}{
	"nss":    {[]string{"/usr/include/nss", "/usr/include/nspr"}, []string{"pkcs11.h", "pkcs11n.h"}},
	"p11kit": {[]string{"/usr/include/p11-kit-1"}, []string{"p11-kit/pkcs11.h", "p11-kit/pkcs11x.h"}},
}

// knownDifferences are values where a reference header is known to be wrong.
var knownDifferences = map[string]map[string]bool{
	// p11-kit 0.24 numbers these 0x1c0-0x1c4; the specification and NSS
	// say 0x1b5-0x1b9.
	"p11kit": {
		"CKR_EXCEEDED_MAX_ITERATIONS": true, "CKR_FIPS_SELF_TEST_FAILED": true,
		"CKR_LIBRARY_LOAD_FAILED": true, "CKR_PIN_TOO_WEAK": true, "CKR_PUBLIC_KEY_INVALID": true,
	},
}

func needCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
}

// probe compiles and runs a C program printing "name value" lines.
func probe(t *testing.T, dirs, includes []string, body string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	var src bytes.Buffer
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n")
	for _, inc := range includes {
		fmt.Fprintf(&src, "#include \"%s\"\n", inc)
	}
	src.WriteString("int main(void) {\n" + body + "\treturn 0;\n}\n")
	cfile := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(cfile, src.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-std=gnu99", "-w", "-o", filepath.Join(dir, "probe"), cfile}
	for _, d := range dirs {
		args = append(args, "-I", d)
	}
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("compiling probe: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(dir, "probe")).Output()
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if name, val, ok := strings.Cut(sc.Text(), " "); ok {
			res[name] = val
		}
	}
	return res
}

// ourConstants lists the #define'd constant names of our headers.
func ourConstants(t *testing.T) []string {
	re := regexp.MustCompile(`(?m)^#define\s+((?:CK[A-Z]?|NSSCK)_[A-Z0-9_]+)\s`)
	var names []string
	for _, h := range []string{"pkcs11t.h", "pkcs11-nss.h"} {
		src, err := os.ReadFile(filepath.Join(includeDir, h))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			names = append(names, string(m[1]))
		}
	}
	return names
}

func constantsBody(names []string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "#ifdef %s\n\tprintf(\"%s %%lu\\n\", (unsigned long)(%s));\n#endif\n", n, n, n)
	}
	return b.String()
}

func TestHeaderConstantsAgree(t *testing.T) {
	needCC(t)
	names := ourConstants(t)
	body := constantsBody(names)
	ours := probe(t, []string{includeDir}, []string{"pkcs11.h", "pkcs11-nss.h"}, body)
	if len(ours) != len(names) {
		t.Fatalf("%d of %d constants evaluated", len(ours), len(names))
	}
	for ref, h := range otherHeaders {
		t.Run(ref, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(h.dirs[0], h.includes[0])); err != nil {
				t.Skipf("%s header not installed", ref)
			}
			theirs := probe(t, h.dirs, h.includes, body)
			shared := 0
			for name, v := range theirs {
				shared++
				if ours[name] != v && !knownDifferences[ref][name] {
					t.Errorf("%s = %s here, %s in %s's header", name, ours[name], v, ref)
				}
			}
			t.Logf("%d constants compared with %s's header", shared, ref)
		})
	}
}

// layoutBody prints the size of each structure and the offset of each of
// its members. ctype maps a structure's label to the C type to measure when
// they differ.
func layoutBody(structs map[string][]string, ctype map[string]string) string {
	var b strings.Builder
	for s, members := range structs {
		c := s
		if ctype[s] != "" {
			c = ctype[s]
		}
		fmt.Fprintf(&b, "\tprintf(\"sizeof(%s) %%zu\\n\", sizeof(%s));\n", s, c)
		for _, m := range members {
			fmt.Fprintf(&b, "\tprintf(\"%s.%s %%zu\\n\", offsetof(%s, %s));\n", s, m, c, m)
		}
	}
	return b.String()
}

// functionListMembers reads the members of a function list structure from
// our pkcs11.h.
func functionListMembers(t *testing.T, name string) []string {
	src, err := os.ReadFile(filepath.Join(includeDir, "pkcs11.h"))
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(src, []byte("struct "+name+" {"))
	end := bytes.Index(src[start:], []byte("};"))
	var members []string
	for _, m := range regexp.MustCompile(`CK_C_\w+ (C_\w+);`).FindAllSubmatch(src[start:start+end], -1) {
		members = append(members, string(m[1]))
	}
	return members
}

func TestHeaderLayoutsAgree(t *testing.T) {
	needCC(t)
	common := map[string][]string{
		"CK_VERSION":              {"major", "minor"},
		"CK_INFO":                 {"cryptokiVersion", "manufacturerID", "flags", "libraryDescription", "libraryVersion"},
		"CK_SLOT_INFO":            {"slotDescription", "manufacturerID", "flags", "hardwareVersion", "firmwareVersion"},
		"CK_TOKEN_INFO":           {"label", "manufacturerID", "model", "serialNumber", "flags", "ulMaxSessionCount", "ulSessionCount", "ulMaxRwSessionCount", "ulRwSessionCount", "ulMaxPinLen", "ulMinPinLen", "ulTotalPublicMemory", "ulFreePublicMemory", "ulTotalPrivateMemory", "ulFreePrivateMemory", "hardwareVersion", "firmwareVersion", "utcTime"},
		"CK_SESSION_INFO":         {"slotID", "state", "flags", "ulDeviceError"},
		"CK_ATTRIBUTE":            {"type", "pValue", "ulValueLen"},
		"CK_DATE":                 {"year", "month", "day"},
		"CK_MECHANISM":            {"mechanism", "pParameter", "ulParameterLen"},
		"CK_MECHANISM_INFO":       {"ulMinKeySize", "ulMaxKeySize", "flags"},
		"CK_C_INITIALIZE_ARGS":    {"CreateMutex", "DestroyMutex", "LockMutex", "UnlockMutex", "flags", "pReserved"},
		"CK_RSA_PKCS_PSS_PARAMS":  {"hashAlg", "mgf", "sLen"},
		"CK_RSA_PKCS_OAEP_PARAMS": {"hashAlg", "mgf", "source", "pSourceData", "ulSourceDataLen"},
		"CK_ECDH1_DERIVE_PARAMS":  {"kdf", "ulSharedDataLen", "pSharedData", "ulPublicDataLen", "pPublicData"},
		"CK_AES_CTR_PARAMS":       {"ulCounterBits", "cb"},
		"CK_FUNCTION_LIST":        append([]string{"version"}, functionListMembers(t, "CK_FUNCTION_LIST")...),
	}
	if n := len(common["CK_FUNCTION_LIST"]); n != 69 {
		t.Fatalf("CK_FUNCTION_LIST has %d members, want version + 68 functions", n)
	}
	// Not in p11-kit's 2.40 header (and its CK_GCM_PARAMS lacks ulIvBits).
	only30 := map[string][]string{
		"CK_CCM_PARAMS":        {"ulDataLen", "pNonce", "ulNonceLen", "pAAD", "ulAADLen", "ulMACLen"},
		"CK_GCM_PARAMS":        {"pIv", "ulIvLen", "ulIvBits", "pAAD", "ulAADLen", "ulTagBits"},
		"CK_INTERFACE":         {"pInterfaceName", "pFunctionList", "flags"},
		"CK_FUNCTION_LIST_3_0": append([]string{"version"}, functionListMembers(t, "CK_FUNCTION_LIST_3_0")...),
	}
	if n := len(only30["CK_FUNCTION_LIST_3_0"]); n != 93 {
		t.Fatalf("CK_FUNCTION_LIST_3_0 has %d members, want version + 92 functions", n)
	}
	for ref, h := range otherHeaders {
		t.Run(ref, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(h.dirs[0], h.includes[0])); err != nil {
				t.Skipf("%s header not installed", ref)
			}
			structs := common
			if ref == "nss" {
				structs = map[string][]string{}
				for k, v := range common {
					structs[k] = v
				}
				for k, v := range only30 {
					structs[k] = v
				}
			}
			// NSS's own CK_C_INITIALIZE_ARGS is its extended structure,
			// which is our CK_NSS_C_INITIALIZE_ARGS.
			var oursType map[string]string
			if ref == "nss" {
				structs["CK_C_INITIALIZE_ARGS"] = append(structs["CK_C_INITIALIZE_ARGS"], "LibraryParameters")
				oursType = map[string]string{"CK_C_INITIALIZE_ARGS": "CK_NSS_C_INITIALIZE_ARGS"}
			}
			ours := probe(t, []string{includeDir}, []string{"pkcs11.h", "pkcs11-nss.h"}, layoutBody(structs, oursType))
			theirs := probe(t, h.dirs, h.includes, layoutBody(structs, nil))
			for k, v := range theirs {
				if ours[k] != v {
					t.Errorf("%s: %s here, %s in %s's header", k, ours[k], v, ref)
				}
			}
			if len(ours) != len(theirs) {
				t.Errorf("%d layout facts here, %d in %s's", len(ours), len(theirs), ref)
			}
		})
	}
}

// zconst.go must be what internal/gencon makes of the headers today.
func TestGeneratedConstantsUpToDate(t *testing.T) {
	needCC(t)
	out := filepath.Join(t.TempDir(), "zconst.go")
	cmd := exec.Command("go", "run", "./internal/gencon", "-include", includeDir, "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gencon: %v\n%s", err, b)
	}
	want, _ := os.ReadFile(out)
	got, err := os.ReadFile("zconst.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("zconst.go is stale: run go generate in pkcs11mod")
	}
}
