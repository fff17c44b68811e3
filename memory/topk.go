package memory

import "slices"

// topK keeps the k smallest items added to it under cmp. It is a max-heap of at most k items:
// the root is the largest kept, so an item that is not smaller than the root is dropped at
// once, and one that is replaces it. Adding n items costs O(n log k).
type topK[T any] struct {
	k     int
	cmp   func(a, b T) int
	items []T
}

// newTopK returns a topK keeping the k smallest items under cmp; n, the number of items that
// will be added, bounds the memory it reserves.
func newTopK[T any](k, n int, cmp func(a, b T) int) *topK[T] {
	return &topK[T]{k: k, cmp: cmp, items: make([]T, 0, max(0, min(k, n)))}
}

// add offers x to the heap.
func (h *topK[T]) add(x T) {
	if len(h.items) < h.k {
		h.items = append(h.items, x)
		h.up(len(h.items) - 1)
		return
	}
	if len(h.items) == 0 || h.cmp(x, h.items[0]) >= 0 {
		return
	}
	h.items[0] = x
	h.down(0)
}

// sorted returns the kept items, smallest first. The heap must not be used afterwards.
func (h *topK[T]) sorted() []T {
	slices.SortFunc(h.items, h.cmp)
	return h.items
}

// up moves the item at i towards the root while it is larger than its parent.
func (h *topK[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h.cmp(h.items[i], h.items[p]) <= 0 {
			return
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

// down moves the item at i towards the leaves while a child is larger than it.
func (h *topK[T]) down(i int) {
	n := len(h.items)
	for {
		largest := i
		if l := 2*i + 1; l < n && h.cmp(h.items[l], h.items[largest]) > 0 {
			largest = l
		}
		if r := 2*i + 2; r < n && h.cmp(h.items[r], h.items[largest]) > 0 {
			largest = r
		}
		if largest == i {
			return
		}
		h.items[i], h.items[largest] = h.items[largest], h.items[i]
		i = largest
	}
}
