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
}

const outFlag = 1 << 31

func newKeywordDFA(keywords []string) *keywordDFA {
	d := &keywordDFA{keywords: keywords}
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

// find calls hit(end, kw) for every occurrence of keyword kw ending just
// before b[end].
func (d *keywordDFA) find(b []byte, hit func(end, kw int)) {
	trans, class := d.trans, &d.class
	s := uint32(0)
	for i, c := range b {
		s = trans[s+uint32(class[c])]
		if s&outFlag != 0 {
			s &^= outFlag
			for _, kw := range d.outs[s/d.nclass] {
				hit(i+1, kw)
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
