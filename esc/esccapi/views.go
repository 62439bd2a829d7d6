package esccapi

import (
	"encoding/json"
	"strings"

	"github.com/coolkey-go/coolkey-go/esc"
)

// The JSON documents of coolkey-esc.h that esc has no JSON form for.

type promptView struct {
	Title           string      `json:"title"`
	Description     string      `json:"description"`
	InvalidPassword bool        `json:"invalidPassword"`
	Blocked         bool        `json:"blocked"`
	Fields          []fieldView `json:"fields"`
}

type fieldView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Type        string `json:"type"`
	Secret      bool   `json:"secret"`
}

// promptJSON describes a login request. The texts come from the TPS: esc
// has already dropped control characters from the title and description,
// and the same is done here for the fields, which a GUI shows as labels.
func promptJSON(p esc.LoginPrompt) string {
	v := promptView{Title: p.Title, Description: p.Description, InvalidPassword: p.InvalidPassword, Blocked: p.Blocked, Fields: []fieldView{}}
	for _, ap := range p.Params {
		name := ap.Name
		if name == "" {
			name = ap.ID
		}
		v.Fields = append(v.Fields, fieldView{ID: ap.ID, Name: printable(name), Description: printable(ap.Description), Type: ap.Type, Secret: ap.Secret()})
	}
	b, _ := json.Marshal(v) // strings and bools only: cannot fail
	return string(b)
}

type phoneHomeView struct {
	PhoneHomeURL string            `json:"phoneHomeURL"`
	IssuerName   string            `json:"issuerName"`
	Services     map[string]string `json:"services"`
}

func phoneHomeJSON(cc *esc.CardCache) ([]byte, error) {
	v := phoneHomeView{Services: map[string]string{}}
	if cc != nil {
		v.PhoneHomeURL, v.IssuerName = cc.PhoneHomeURL, cc.IssuerName
		for _, s := range cc.Services {
			v.Services[s.Name] = s.Value
		}
	}
	return json.Marshal(v)
}

type eventView struct {
	Kind    string `json:"kind"`
	Reader  string `json:"reader,omitempty"`
	CUID    string `json:"cuid,omitempty"`
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

func eventJSON(ev eventView) string {
	b, _ := json.Marshal(ev)
	return string(b)
}

// printable drops control characters (C0, DEL, C1).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}
