package clientse2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coolkey-go/coolkey-go/e2e/marionette"
	"github.com/coolkey-go/coolkey-go/internal/e2e"
	"github.com/coolkey-go/coolkey-go/vcard/provision"
)

// listModulesScript lists the PKCS#11 modules the application has loaded,
// with their slots and tokens, as Settings → Security Devices shows them.
const listModulesScript = `
return (async () => {
  const db = Cc["@mozilla.org/security/pkcs11moduledb;1"].getService(Ci.nsIPKCS11ModuleDB);
  const modules = [];
  for (const m of await db.listModules()) {
    const slots = [];
    for (const s of m.slots) {
      let token = "";
      try {
        token = s.getToken().tokenName;
      } catch (e) {}
      slots.push({ name: s.name, token });
    }
    modules.push({ name: m.name, lib: m.libName, slots });
  }
  return { modules, policiesActive: Services.policies.status == Ci.nsIEnterprisePolicies.ACTIVE };
})();
`

type loadedModules struct {
	Modules []struct {
		Name  string `json:"name"`
		Lib   string `json:"lib"`
		Slots []struct {
			Name  string `json:"name"`
			Token string `json:"token"`
		} `json:"slots"`
	} `json:"modules"`
	PoliciesActive bool `json:"policiesActive"`
}

// checkPolicyRegistration starts app (firefox-esr or thunderbird) on a
// fresh profile, with nothing registered by hand, in a private mount
// namespace whose /etc is an overlay holding /etc/<dir>/policies/
// policies.json with the SecurityDevices policy an administrator would
// write; the application must load the module and show the card's token.
func checkPolicyRegistration(t *testing.T, app, etcDir string) {
	needTools(t, app, "unshare")
	mod := module(t)
	c := newCard(t, false, provision.KeySpec("rsa2048"), provision.KeySpec("rsa2048"))
	tr := serveSocket(t, c)
	dir := t.TempDir()
	policy, err := json.Marshal(map[string]any{"policies": map[string]any{
		"SecurityDevices": map[string]any{"Add": map[string]string{moduleName: mod}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	policyFile := writeFile(t, filepath.Join(dir, "policies.json"), policy)
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Everything in /etc stays as it is; only the namespace sees the
	// policy file.
	wrapper := []string{"unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
		`mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc && mkdir -p "/etc/$3/policies" && ` +
			`cp "$4" "/etc/$3/policies/policies.json" && shift 4 && exec "$@"`,
		"sh", upper, work, etcDir, policyFile}
	if res := e2e.RunEnv(t, 30*time.Second, nil, wrapper[0], append(wrapper[1:], "true")...); res.Err != nil {
		e2e.Skipf(t, "cannot overlay /etc in a private mount namespace: %v %s", res.Err, res.Stderr)
	}

	profile := newProfileDir(t)
	prefs, err := marionette.ProfilePrefs(nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(profile, "user.js"), []byte(prefs))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, err := marionette.Launch(ctx, marionette.LaunchOptions{
		Binary: app, Profile: profile, Env: tr.env, Wrapper: wrapper,
		Caps: marionette.Capabilities{PageLoadStrategy: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		if t.Failed() {
			t.Logf("%s output:\n%s", app, appOutput(a.Output()))
		}
	})
	if err := a.SetContext(ctx, "chrome"); err != nil {
		t.Fatal(err)
	}
	var got loadedModules
	if err := a.ExecuteScript(ctx, listModulesScript, nil, &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: enterprise policies active %v, modules %+v", app, got.PoliciesActive, got.Modules)
	if !got.PoliciesActive {
		t.Errorf("%s does not report its enterprise policies active", app)
	}
	found := false
	for _, m := range got.Modules {
		if m.Lib != mod {
			continue
		}
		found = true
		tokens := 0
		for _, s := range m.Slots {
			if s.Token == testUser && s.Name == tr.reader {
				tokens++
			}
		}
		if tokens != 1 {
			t.Errorf("module %q shows slots %+v, want the token %q in %q", m.Name, m.Slots, testUser, tr.reader)
		}
	}
	if !found {
		t.Errorf("%s did not load %s from the SecurityDevices policy in /etc/%s/policies/policies.json", app, mod, etcDir)
	}
	// The policy registers the module in the profile, as the Security
	// Devices dialog would.
	if b, err := os.ReadFile(filepath.Join(profile, "pkcs11.txt")); err != nil || !strings.Contains(string(b), "library="+mod) {
		t.Errorf("the profile's pkcs11.txt does not register the module (%v):\n%s", err, b)
	}
}

// Firefox ESR reads the policy from /etc/firefox (not /etc/firefox-esr).
func TestFirefoxSecurityDevicesPolicy(t *testing.T) {
	checkPolicyRegistration(t, firefoxBin, "firefox")
}

// Thunderbird reads it from /etc/thunderbird.
func TestThunderbirdSecurityDevicesPolicy(t *testing.T) {
	checkPolicyRegistration(t, thunderbirdBin, "thunderbird")
}
