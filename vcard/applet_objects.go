package vcard

import "encoding/binary"

func (a *applet) createObject(x *apdu) error {
	force := a.authID&raACL == raACL
	if !a.authorized(a.createObjectACL) {
		return swUnauthorized
	}
	if x.p3 != 14 {
		return swInvalidParameter
	}
	if x.p1 != 0 {
		return swIncorrectP1
	}
	id := x.u32(0)
	if x.short(4) != 0 || x.at(6)&0x80 != 0 {
		return swNoMemoryLeft
	}
	size := int(x.short(6))
	if size <= 0 {
		return swInvalidParameter
	}
	if isIOBuffer(id) {
		if size > ioBufCapacity {
			return swNoMemoryLeft
		}
		a.iobufSize = int16(size)
		return nil
	}
	if a.objects.find(id) != nil {
		if !force {
			return swObjectExists
		}
		// The RA replaces an existing object, wiping it first.
		a.objects.destroy(id, true)
		a.card.markDirty()
	}
	if size+objectHeaderSize > maxObjectSize {
		// On the card size+14 overflows a short and the allocator hands out
		// a tiny block; refusing is the only sane emulation.
		return swNoMemoryLeft
	}
	acl := ACL{
		Read:   binary.BigEndian.Uint16(x.window(8, 2)),
		Write:  binary.BigEndian.Uint16(x.window(10, 2)),
		Delete: binary.BigEndian.Uint16(x.window(12, 2)),
	}
	if _, err := a.objects.create(id, size, acl); err != nil {
		return err
	}
	a.card.markDirty()
	return nil
}

func (a *applet) deleteObject(x *apdu) error {
	if x.p1 != 0 {
		return swIncorrectP1
	}
	if x.p2 != 0 && x.p2 != 1 {
		return swIncorrectP2
	}
	if x.p3 != 4 {
		return swInvalidParameter
	}
	id := x.u32(0)
	if isIOBuffer(id) {
		a.iobufSize = 0
		return nil
	}
	o := a.objects.find(id)
	if o == nil {
		return swObjectNotFound
	}
	if !a.authorized(o.acl.Delete) {
		return swUnauthorized
	}
	a.objects.destroy(id, x.p2 == 1)
	a.card.markDirty()
	return nil
}

func (a *applet) readObject(x *apdu) ([]byte, error) {
	if x.p1 != 0 {
		return nil, swIncorrectP1
	}
	if x.p2 != 0 {
		return nil, swIncorrectP2
	}
	if x.p3 != 9 {
		return nil, swInvalidParameter
	}
	id := x.u32(0)
	// Only the low 16 bits of the 4-byte offset count, as a signed short.
	offset := x.short(6)
	size := int16(x.at(8))
	if offset < 0 {
		return nil, swInvalidParameter
	}
	end := offset + size
	if isIOBuffer(id) {
		if offset > a.iobufSize || end > a.iobufSize || end < 0 {
			return nil, swInvalidParameter
		}
		if int(end) > ioBufCapacity {
			return nil, SWUnknown // past the transient array
		}
		return append([]byte(nil), a.iobuf[offset:end]...), nil
	}
	o := a.objects.find(id)
	if o == nil {
		return nil, swObjectNotFound
	}
	if !a.authorized(o.acl.Read) {
		return nil, swUnauthorized
	}
	if int(end) > len(o.data) || end < 0 {
		return nil, swInvalidParameter
	}
	return append([]byte(nil), o.data[offset:end]...), nil
}

// writeObject copies len bytes from data offset 9 without comparing len with
// Lc; for the I/O buffer it first sets the buffer size to offset+len.
func (a *applet) writeObject(x *apdu) error {
	if x.p1 != 0 {
		return swIncorrectP1
	}
	if x.p2 != 0 {
		return swIncorrectP2
	}
	id := x.u32(0)
	offset := x.short(6)
	size := int16(x.at(8))
	if offset < 0 {
		return swInvalidParameter
	}
	var objSize int16
	var o *object
	if isIOBuffer(id) {
		a.iobufSize = size + offset
		objSize = a.iobufSize
	} else {
		o = a.objects.find(id)
		if o == nil {
			return swObjectNotFound
		}
		if !a.authorized(o.acl.Write) {
			return swUnauthorized
		}
		objSize = int16(len(o.data))
	}
	if offset > objSize || size > objSize || offset+size > objSize {
		return swInvalidParameter
	}
	src := x.window(9, int(size))
	if o == nil {
		if int(offset)+int(size) > ioBufCapacity {
			return SWUnknown // ArrayIndexOutOfBounds on the card
		}
		copy(a.iobuf[offset:], src)
		return nil
	}
	copy(o.data[offset:], src)
	a.card.markDirty()
	return nil
}

func (a *applet) listObjects(x *apdu) ([]byte, error) {
	if x.p2 != 0 {
		return nil, swIncorrectP2
	}
	if int8(x.p3) < 14 {
		return nil, SWWrongLength
	}
	switch x.p1 {
	case 0:
		a.objects.cursor = a.objects.head
	case 1:
	default:
		return nil, swIncorrectP1
	}
	o := a.objects.cursor
	if o == nil {
		return nil, swSequenceEnd
	}
	a.objects.cursor = o.next
	out := binary.BigEndian.AppendUint32(nil, o.id)
	out = append(out, 0, 0)
	out = binary.BigEndian.AppendUint16(out, uint16(len(o.data)))
	return append(out, o.acl.bytes()...), nil
}

func (a *applet) listKeys(x *apdu) ([]byte, error) {
	if x.p2 != 0 {
		return nil, swIncorrectP2
	}
	if x.p3 != 11 {
		return nil, SWWrongLength
	}
	switch x.p1 {
	case 0:
		a.keyIt = 0
	case 1:
	default:
		return nil, swIncorrectP1
	}
	for a.keyIt < maxKeys && (a.keys[a.keyIt] == nil || !a.keys[a.keyIt].initialized) {
		a.keyIt++
	}
	if a.keyIt >= maxKeys {
		// The end of the list is 90 00 with no data, not 9C 12.
		return nil, nil
	}
	n := a.keyIt
	k := a.keys[n]
	a.keyIt++
	out := []byte{byte(n), byte(k.typ), byte(a.keyMate[n])}
	out = binary.BigEndian.AppendUint16(out, uint16(k.bits))
	acl := a.keyACL[n]
	out = binary.BigEndian.AppendUint16(out, acl.Read)
	out = binary.BigEndian.AppendUint16(out, acl.Write)
	return binary.BigEndian.AppendUint16(out, acl.Use), nil
}
