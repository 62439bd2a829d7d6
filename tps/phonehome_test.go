package tps

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The document Dogtag ships (conf/tps/phoneHome.xml), host names filled in.
const dogtagPhoneHome = `<ServiceInfo>
 <IssuerName>FedoraProject</IssuerName>
 <Services>
  <Operation>https://tps.example.com:8443/tps/tps</Operation>
  <UI></UI>
  <EnrolledTokenBrowserURL>http://fedoraproject.org</EnrolledTokenBrowserURL>
  <EnrolledTokenURL></EnrolledTokenURL>
  <TokenType>userKey</TokenType>
 </Services>
</ServiceInfo>`

func TestParseServiceInfo(t *testing.T) {
	si, err := ParseServiceInfo([]byte(dogtagPhoneHome))
	if err != nil {
		t.Fatal(err)
	}
	want := &ServiceInfo{
		IssuerName: "FedoraProject",
		Services: []Param{
			{ServiceOperation, "https://tps.example.com:8443/tps/tps"},
			{ServiceEnrolledTokenBrowserURL, "http://fedoraproject.org"},
			{ServiceTokenType, "userKey"},
		},
	}
	if diff := cmp.Diff(want, si); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := si.Service(ServiceUI); got != "" {
		t.Errorf("empty UI element gave %q", got)
	}

	out, err := si.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseServiceInfo(out)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", out, err)
	}
	if diff := cmp.Diff(si, back); diff != "" {
		t.Errorf("marshal round trip (-want +got):\n%s", diff)
	}
}

func TestParseServiceInfoRejects(t *testing.T) {
	tests := map[string]string{
		"wrong root":      `<Other><IssuerName>x</IssuerName></Other>`,
		"no issuer":       `<ServiceInfo><Services><Operation>u</Operation></Services></ServiceInfo>`,
		"not xml":         `https://tps/tps`,
		"unclosed":        `<ServiceInfo><IssuerName>x</IssuerName>`,
		"two roots":       `<ServiceInfo><IssuerName>x</IssuerName></ServiceInfo><ServiceInfo/>`,
		"foreign charset": `<?xml version="1.0" encoding="EBCDIC"?><ServiceInfo><IssuerName>x</IssuerName></ServiceInfo>`,
		"entity bomb":     `<!DOCTYPE x [<!ENTITY a "aaaa">]><ServiceInfo><IssuerName>&a;</IssuerName></ServiceInfo>`,
		"too big":         `<ServiceInfo><IssuerName>` + strings.Repeat("x", MaxServiceInfoSize) + `</IssuerName></ServiceInfo>`,
	}
	for name, doc := range tests {
		if _, err := ParseServiceInfo([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseServiceInfoTakesFirstServicesOnly(t *testing.T) {
	doc := `<?xml version="1.0" encoding="US-ASCII"?>
<ServiceInfo><IssuerName> Example &amp; Co </IssuerName>
<Services><Operation>https://a/tps/tps</Operation><Operation>https://b</Operation><Extra>x</Extra></Services>
<Services><UI>https://ignored</UI></Services></ServiceInfo>`
	si, err := ParseServiceInfo([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if si.IssuerName != "Example & Co" {
		t.Errorf("IssuerName = %q", si.IssuerName)
	}
	if si.Service(ServiceOperation) != "https://a/tps/tps" || si.Service("Extra") != "x" || si.Service(ServiceUI) != "" {
		t.Errorf("Services = %v", si.Services)
	}
}
