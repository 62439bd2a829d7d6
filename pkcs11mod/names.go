package pkcs11mod

import "fmt"

func (t AttributeType) String() string { return nameOr(attributeNames[t], "CKA", uint(t)) }
func (t MechanismType) String() string { return nameOr(mechanismNames[t], "CKM", uint(t)) }
func (c ObjectClass) String() string   { return nameOr(objectClassNames[c], "CKO", uint(c)) }
func (k KeyType) String() string       { return nameOr(keyTypeNames[k], "CKK", uint(k)) }

func nameOr(name, prefix string, v uint) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("%s_0x%X", prefix, v)
}
