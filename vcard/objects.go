package vcard

// Object IDs of the transient I/O buffer: class FFFF with ID FFFF or FFFE.
// Neither is stored on the heap and neither has an ACL.
const (
	ioBufferID   uint32 = 0xFFFFFFFF
	ioBufferInID uint32 = 0xFFFFFFFE
)

func isIOBuffer(id uint32) bool { return id == ioBufferID || id == ioBufferInID }

// objectHeaderSize is what the applet's ObjectManager adds to each object on
// the heap: next pointer, class, ID, three ACL shorts and the size.
const objectHeaderSize = 14

// maxObjectSize is the largest size CREATE OBJECT accepts (a positive short).
const maxObjectSize = 0x7FFF

// ACL is an object's access control list. Each field is a mask of identities
// (bit n = PIN n, 0x4000 = RA/secure channel, 0x8000 = anyone presenting the
// zero nonce); an operation is allowed when the mask and the caller's
// identities share a bit.
type ACL struct {
	Read, Write, Delete uint16
}

func (a ACL) bytes() []byte {
	return []byte{byte(a.Read >> 8), byte(a.Read), byte(a.Write >> 8), byte(a.Write), byte(a.Delete >> 8), byte(a.Delete)}
}

// object is one applet object. The store links objects newest first, as the
// applet does, which is the order LIST OBJECTS returns.
type object struct {
	id   uint32
	acl  ACL
	data []byte // a window onto the heap
	base int    // heap offset of data
	next *object
}

type objectStore struct {
	heap *heap
	head *object
	// cursor is LIST OBJECTS' position. The applet keeps it in a persistent
	// field and does not reset it when objects change; a deleted object
	// keeps its link, so iteration continues where it would on the card.
	cursor *object
}

func newObjectStore(h *heap) *objectStore { return &objectStore{heap: h} }

func (s *objectStore) find(id uint32) *object {
	for o := s.head; o != nil; o = o.next {
		if o.id == id {
			return o
		}
	}
	return nil
}

// create allocates an object of size bytes (1..maxObjectSize) and links it
// at the head. Its contents are whatever the heap held.
func (s *objectStore) create(id uint32, size int, acl ACL) (*object, error) {
	if s.find(id) != nil {
		return nil, swObjectExists
	}
	off, ok := s.heap.alloc(size + objectHeaderSize)
	if !ok {
		return nil, swNoMemoryLeft
	}
	base := off + objectHeaderSize
	o := &object{id: id, acl: acl, base: base, data: s.heap.mem[base : base+size : base+size], next: s.head}
	s.head = o
	return o, nil
}

// destroy unlinks and frees the object, zeroing its data first when secure.
func (s *objectStore) destroy(id uint32, secure bool) {
	var prev *object
	for o := s.head; o != nil; prev, o = o, o.next {
		if o.id != id {
			continue
		}
		if prev == nil {
			s.head = o.next
		} else {
			prev.next = o.next
		}
		if secure {
			clear(o.data)
		}
		s.heap.release(o.base - objectHeaderSize)
		return
	}
}

// list returns the objects newest first.
func (s *objectStore) list() []*object {
	var out []*object
	for o := s.head; o != nil; o = o.next {
		out = append(out, o)
	}
	return out
}
