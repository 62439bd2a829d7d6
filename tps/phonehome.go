package tps

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxServiceInfoSize bounds a phone-home document; the Dogtag default is
// a few hundred bytes.
const MaxServiceInfoSize = 64 << 10

// Child elements of <Services> that clients act on.
const (
	ServiceOperation               = "Operation" // the TPS URL for token operations
	ServiceUI                      = "UI"
	ServiceEnrolledTokenBrowserURL = "EnrolledTokenBrowserURL"
	ServiceEnrolledTokenURL        = "EnrolledTokenURL"
	ServiceTokenType               = "TokenType" // tokenType for format
	ServiceCAChainUI               = "CAChainUI"
)

// ServiceInfo is the phone-home document a TPS serves for a card:
//
//	<ServiceInfo><IssuerName>…</IssuerName>
//	  <Services><Operation>https://tps/tps/tps</Operation>…</Services>
//	</ServiceInfo>
type ServiceInfo struct {
	IssuerName string
	// Services holds the children of the first <Services> element that
	// have text, in document order. Empty elements are left out, as the
	// ESC leaves them out of its cache.
	Services []Param
}

// Service returns the text of the named <Services> child.
func (s *ServiceInfo) Service(name string) string {
	for _, p := range s.Services {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// ParseServiceInfo parses a phone-home document. Like the ESC it requires
// a ServiceInfo root and an IssuerName; unknown elements are kept or
// ignored, never an error.
func ParseServiceInfo(b []byte) (*ServiceInfo, error) {
	if len(b) > MaxServiceInfoSize {
		return nil, fmt.Errorf("tps: phone-home document of %d bytes exceeds %d", len(b), MaxServiceInfoSize)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	// UTF-8 (handled by encoding/xml itself) and US-ASCII only; anything
	// else is refused rather than guessed at.
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		if l := strings.ToLower(label); l == "us-ascii" || l == "ascii" {
			return r, nil // a subset of UTF-8
		}
		return nil, fmt.Errorf("unsupported charset %q", label)
	}
	var (
		si           ServiceInfo
		path         []string // open element names
		text         strings.Builder
		sawRoot      bool
		sawIssuer    bool
		inServices   bool
		doneServices bool
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tps: phone-home document: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(path) == 0 {
				if name != "ServiceInfo" || sawRoot {
					return nil, errors.New("tps: phone-home document: root element is not ServiceInfo")
				}
				sawRoot = true
			}
			if len(path) > 16 {
				return nil, errors.New("tps: phone-home document nested too deeply")
			}
			path = append(path, name)
			text.Reset()
			if len(path) == 2 && name == "Services" && !doneServices {
				inServices = true
			}
		case xml.CharData:
			if text.Len()+len(t) <= MaxServiceInfoSize {
				text.Write(t)
			}
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			switch {
			case len(path) == 2 && path[1] == "IssuerName":
				si.IssuerName = v
				sawIssuer = true
			case len(path) == 2 && path[1] == "Services" && inServices:
				inServices, doneServices = false, true
			case len(path) == 3 && inServices && v != "":
				if si.Service(path[2]) == "" {
					si.Services = append(si.Services, Param{path[2], v})
				}
			}
			path = path[:len(path)-1]
			text.Reset()
		}
	}
	if !sawRoot {
		return nil, errors.New("tps: phone-home document: no ServiceInfo element")
	}
	if !sawIssuer {
		return nil, errors.New("tps: phone-home document: no IssuerName element")
	}
	return &si, nil
}

// Marshal returns the document as XML.
func (s *ServiceInfo) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<ServiceInfo>\n <IssuerName>")
	if err := xml.EscapeText(&b, []byte(s.IssuerName)); err != nil {
		return nil, err
	}
	b.WriteString("</IssuerName>\n <Services>\n")
	for _, p := range s.Services {
		if !isXMLName(p.Name) {
			return nil, fmt.Errorf("tps: %q is not an XML element name", p.Name)
		}
		fmt.Fprintf(&b, "  <%s>", p.Name)
		if err := xml.EscapeText(&b, []byte(p.Value)); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "</%s>\n", p.Name)
	}
	b.WriteString(" </Services>\n</ServiceInfo>\n")
	return b.Bytes(), nil
}

func isXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '_' || (i > 0 && (c == '-' || c == '.'))) || (i == 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
