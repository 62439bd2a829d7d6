package vcard

// heap is the applet's object memory. It reproduces the applet's
// MemoryManager bookkeeping so that GET STATUS reports the free memory a real
// card would, fragmentation included:
//
//   - every block carries a 2-byte size header and is at least 4 bytes;
//   - allocation is first fit over a free list kept in address order, and
//     takes the *end* of the free block it splits; a remainder smaller than
//     4 bytes is handed out with the block;
//   - freeing coalesces with both neighbours;
//   - free memory is the sum of the free blocks minus 2 bytes each.
//
// Object data lives in mem, so a new object holds whatever its memory held
// before, as on the card.
type heap struct {
	mem  []byte
	free []span // address order
	used map[int]int
}

type span struct{ off, size int }

const (
	heapBlockHeader = 2
	heapMinBlock    = 4
)

func newHeap(size int) *heap {
	return &heap{
		mem:  make([]byte, size),
		free: []span{{0, size}},
		used: make(map[int]int),
	}
}

// size is the total object memory GET STATUS reports.
func (h *heap) size() int { return len(h.mem) }

// alloc reserves n bytes and returns the offset of the first one.
func (h *heap) alloc(n int) (int, bool) {
	need := n + heapBlockHeader
	if need < heapMinBlock {
		need = heapMinBlock
	}
	for i, f := range h.free {
		if f.size < need {
			continue
		}
		remain := f.size - need
		if remain >= heapMinBlock {
			h.free[i].size = remain
		} else {
			need, remain = f.size, 0
			h.free = append(h.free[:i], h.free[i+1:]...)
		}
		block := f.off + remain
		h.used[block] = need
		return block + heapBlockHeader, true
	}
	return 0, false
}

// release returns the block whose data starts at off.
func (h *heap) release(off int) {
	block := off - heapBlockHeader
	size, ok := h.used[block]
	if !ok {
		return
	}
	delete(h.used, block)
	i := 0
	for i < len(h.free) && h.free[i].off < block {
		i++
	}
	h.free = append(h.free, span{})
	copy(h.free[i+1:], h.free[i:])
	h.free[i] = span{block, size}
	if i+1 < len(h.free) && block+size == h.free[i+1].off {
		h.free[i].size += h.free[i+1].size
		h.free = append(h.free[:i+1], h.free[i+2:]...)
	}
	if i > 0 && h.free[i-1].off+h.free[i-1].size == block {
		h.free[i-1].size += h.free[i].size
		h.free = append(h.free[:i], h.free[i+1:]...)
	}
}

// freeBytes is the "free object memory" of GET STATUS.
func (h *heap) freeBytes() int {
	total := 0
	for _, f := range h.free {
		total += f.size - heapBlockHeader
	}
	return total
}
