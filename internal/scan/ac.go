package scan

// keywordDFA finds every occurrence of a set of keywords, ignoring ASCII
// case, in one pass: an Aho-Corasick automaton compiled to a dense DFA over
// byte classes (the bytes the keywords use, upper and lower case folded, and
// one class for every other byte). The inner loop is one table load per
// input byte.
type keywordDFA struct {
	class    [256]uint8
	nclass   uint32
	trans    []uint32 // state*nclass + class -> next state*nclass, with outFlag when it has outputs
	outs     [][]int  // state -> keyword indexes ending there
	keywords []string
	maxLen   int
}

const outFlag = 1 << 31

func newKeywordDFA(keywords []string) *keywordDFA {
	d := &keywordDFA{keywords: keywords}
	for _, k := range keywords {
		d.maxLen = max(d.maxLen, len(k))
	}
	// Byte classes.
	n := uint8(1)
	for _, k := range keywords {
		for i := 0; i < len(k); i++ {
			c := lowerByte(k[i])
			if d.class[c] == 0 {
				d.class[c] = n
				if 'a' <= c && c <= 'z' {
					d.class[c-'a'+'A'] = n
				}
				n++
			}
		}
	}
	d.nclass = uint32(n)
	// Trie.
	type node struct {
		next map[uint8]int
		fail int
		out  []int
	}
	nodes := []node{{next: map[uint8]int{}}}
	for ki, k := range keywords {
		s := 0
		for i := 0; i < len(k); i++ {
			c := d.class[lowerByte(k[i])]
			nx, ok := nodes[s].next[c]
			if !ok {
				nx = len(nodes)
				nodes = append(nodes, node{next: map[uint8]int{}})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, ki)
	}
	// BFS: failure links and the complete transition table.
	d.trans = make([]uint32, len(nodes)*int(n))
	queue := []int{}
	for c := uint32(0); c < d.nclass; c++ {
		if nx, ok := nodes[0].next[uint8(c)]; ok {
			nodes[nx].fail = 0
			queue = append(queue, nx)
			d.trans[c] = uint32(nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		nodes[s].out = append(nodes[s].out, nodes[nodes[s].fail].out...)
		for c := uint32(0); c < d.nclass; c++ {
			if nx, ok := nodes[s].next[uint8(c)]; ok {
				nodes[nx].fail = int(d.trans[uint32(nodes[s].fail)*d.nclass+c])
				queue = append(queue, nx)
				d.trans[uint32(s)*d.nclass+c] = uint32(nx)
			} else {
				d.trans[uint32(s)*d.nclass+c] = d.trans[uint32(nodes[s].fail)*d.nclass+c]
			}
		}
	}
	d.outs = make([][]int, len(nodes))
	for i := range nodes {
		d.outs[i] = nodes[i].out
	}
	// Pre-multiply state numbers and flag states with outputs.
	for i, t := range d.trans {
		v := t * d.nclass
		if len(nodes[t].out) > 0 {
			v |= outFlag
		}
		d.trans[i] = v
	}
	return d
}

// find calls hit(end, kw), in increasing order of end, for every
// occurrence of keyword kw ending just before b[end].
//
// The buffer is walked in blocks of at most dfaBlock bytes, each as two
// halves in one loop (a walk that starts maxLen-1 bytes before its region
// sees every keyword that ends inside it whole): the two table walks are
// independent chains of loads that the CPU overlaps. The second half's hits
// are held and delivered after the first's; holding them per block keeps
// that buffer small and reused, whatever the size of b.
func (d *keywordDFA) find(b []byte, hit func(end, kw int)) {
	if len(b) < dfaSplit || d.maxLen == 0 {
		d.walk(b, 0, hit)
		return
	}
	var held []int // end, kw pairs of a block's second half
	for lo := 0; lo < len(b); lo += dfaBlock {
		hi := min(len(b), lo+dfaBlock)
		if hi-lo < dfaSplit {
			ws := max(0, lo-(d.maxLen-1))
			d.walkFrom(b[ws:hi], ws, lo, hit)
			continue
		}
		held = d.walk2(b, lo, hi, held[:0], hit)
	}
}

const (
	dfaSplit = 8 << 10  // below this, one chain
	dfaBlock = 64 << 10 // the region walked as two halves at a time
)

// walk2 reports the keywords ending in (lo, hi], or in [0, hi] when lo is 0:
// b[lo-maxLen+1:mid] and b[mid-maxLen+1:hi] are walked side by side.
func (d *keywordDFA) walk2(b []byte, lo, hi int, held []int, hit func(end, kw int)) []int {
	trans, class := d.trans, &d.class
	aoff := max(0, lo-(d.maxLen-1))
	mid := lo + (hi-lo)/2
	off := mid - (d.maxLen - 1)
	a := b[aoff:mid]
	c := b[off:hi]
	c2 := c[:min(len(a), len(c))]
	s1, s2 := uint32(0), uint32(0)
	for i := range c2 {
		s1 = trans[s1+uint32(class[a[i]])]
		s2 = trans[s2+uint32(class[c2[i]])]
		if (s1|s2)&outFlag != 0 {
			if s1&outFlag != 0 {
				s1 &^= outFlag
				if end := aoff + i + 1; end > lo {
					for _, kw := range d.outs[s1/d.nclass] {
						hit(end, kw)
					}
				}
			}
			if s2&outFlag != 0 {
				s2 &^= outFlag
				if end := off + i + 1; end > mid {
					for _, kw := range d.outs[s2/d.nclass] {
						held = append(held, end, kw)
					}
				}
			}
		}
	}
	// The rest of the first half (when it started earlier than the second).
	for i := len(c2); i < len(a); i++ {
		s1 = trans[s1+uint32(class[a[i]])]
		if s1&outFlag != 0 {
			s1 &^= outFlag
			if end := aoff + i + 1; end > lo {
				for _, kw := range d.outs[s1/d.nclass] {
					hit(end, kw)
				}
			}
		}
	}
	for i := 0; i+1 < len(held); i += 2 {
		hit(held[i], held[i+1])
	}
	// The rest of the second half.
	for i := len(c2); i < len(c); i++ {
		s2 = trans[s2+uint32(class[c[i]])]
		if s2&outFlag != 0 {
			s2 &^= outFlag
			if end := off + i + 1; end > mid {
				for _, kw := range d.outs[s2/d.nclass] {
					hit(end, kw)
				}
			}
		}
	}
	return held
}

// walkFrom is walk over b, whose first byte is at offset base, reporting
// only the keywords that end after offset lo.
func (d *keywordDFA) walkFrom(b []byte, base, lo int, hit func(end, kw int)) {
	trans, class := d.trans, &d.class
	s := uint32(0)
	for i, c := range b {
		s = trans[s+uint32(class[c])]
		if s&outFlag != 0 {
			s &^= outFlag
			if end := base + i + 1; end > lo {
				for _, kw := range d.outs[s/d.nclass] {
					hit(end, kw)
				}
			}
		}
	}
}

// walk is find in one chain, with offsets shifted by base.
func (d *keywordDFA) walk(b []byte, base int, hit func(end, kw int)) {
	trans, class := d.trans, &d.class
	s := uint32(0)
	for i, c := range b {
		s = trans[s+uint32(class[c])]
		if s&outFlag != 0 {
			s &^= outFlag
			for _, kw := range d.outs[s/d.nclass] {
				hit(base+i+1, kw)
			}
		}
	}
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
