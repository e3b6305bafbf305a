package topology

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// constraint says that a name, once prefix is cut off it, is a topic a
// selection picks and that is mirrored at all.
type constraint struct {
	prefix string
	sel    agentapi.Selector
}

// maxStates bounds the search of anyName; past it the answer is yes, which
// stops mirrors rather than let two of them write one topic.
const maxStates = 20000

var (
	memoMu sync.Mutex
	memo   = map[string]bool{}
)

// anyName reports whether some name meets every constraint. Selections are
// regular languages, so the question has an answer: the patterns' automata
// run side by side over every name at once, one rune class at a time.
func anyName(cs []constraint) bool {
	key := fmt.Sprintf("%q", cs)
	memoMu.Lock()
	v, ok := memo[key]
	memoMu.Unlock()
	if ok {
		return v
	}
	v = search(cs)
	memoMu.Lock()
	if len(memo) > 4096 {
		memo = map[string]bool{}
	}
	memo[key] = v
	memoMu.Unlock()
	return v
}

// term is one pattern's automaton. Assertions the search does not follow
// (word boundaries, line ends in (?m)) pass in an include and fail in an
// exclude: either way the selection's language can only grow, and with it
// the overlaps found.
type term struct {
	prog    *syntax.Prog
	include bool
}

type clause struct{ include, exclude []int } // indexes of terms

func search(cs []constraint) bool {
	var terms []term
	var clauses []clause
	add := func(prefix, pattern string, include bool) bool {
		re, err := syntax.Parse("(?:"+regexp.QuoteMeta(prefix)+")(?:"+pattern+")", syntax.Perl)
		if err != nil {
			return false
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return false
		}
		terms = append(terms, term{prog: prog, include: include})
		return true
	}
	never := []string{regexp.QuoteMeta(InternalPrefix) + `(?s:.*)`, `(?s:.*)` + regexp.QuoteMeta(QuarantineSuffix)}
	for _, c := range cs {
		var cl clause
		for _, p := range c.sel.Include {
			if !add(c.prefix, p, true) {
				return true
			}
			cl.include = append(cl.include, len(terms)-1)
		}
		if len(cl.include) == 0 {
			return false
		}
		for _, p := range append(slices.Clone(c.sel.Exclude), never...) {
			if !add(c.prefix, p, false) {
				return true
			}
			cl.exclude = append(cl.exclude, len(terms)-1)
		}
		clauses = append(clauses, cl)
	}
	runes := alphabet(terms)

	type state struct {
		sets  [][]uint32
		start bool
	}
	keyOf := func(st state) string {
		var b strings.Builder
		fmt.Fprint(&b, st.start, st.sets)
		return b.String()
	}
	first := state{start: true, sets: make([][]uint32, len(terms))}
	for i, t := range terms {
		first.sets[i] = t.closure([]uint32{uint32(t.prog.Start)}, true, false)
	}
	seen := map[string]bool{keyOf(first): true}
	queue := []state{first}
	for len(queue) > 0 {
		if len(seen) > maxStates {
			return true
		}
		st := queue[0]
		queue = queue[1:]
		met, alive := true, true
		for _, cl := range clauses {
			in, live := false, false
			for _, i := range cl.include {
				live = live || len(st.sets[i]) > 0
				in = in || terms[i].accepts(st.sets[i], st.start)
			}
			out := false
			for _, i := range cl.exclude {
				out = out || terms[i].accepts(st.sets[i], st.start)
			}
			met = met && in && !out
			alive = alive && live
		}
		if met && !st.start { // a topic's name is never empty
			return true
		}
		if !alive {
			continue // some selection can no longer pick any longer name
		}
		for _, r := range runes {
			next := state{sets: make([][]uint32, len(terms))}
			for i, t := range terms {
				next.sets[i] = t.step(st.sets[i], r)
			}
			if k := keyOf(next); !seen[k] {
				seen[k] = true
				queue = append(queue, next)
			}
		}
	}
	return false
}

// alphabet answers one rune of each class of runes that every pattern's
// instructions treat alike.
func alphabet(terms []term) []rune {
	bounds := map[rune]bool{0: true}
	edge := func(lo, hi rune) {
		bounds[lo] = true
		if hi < unicode.MaxRune {
			bounds[hi+1] = true
		}
	}
	for _, t := range terms {
		for _, in := range t.prog.Inst {
			switch in.Op {
			case syntax.InstRune:
				if len(in.Rune) == 1 {
					r := in.Rune[0]
					edge(r, r)
					if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
						for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
							edge(f, f)
						}
					}
					continue
				}
				for i := 0; i+1 < len(in.Rune); i += 2 {
					edge(in.Rune[i], in.Rune[i+1])
				}
			case syntax.InstRune1:
				edge(in.Rune[0], in.Rune[0])
			case syntax.InstRuneAnyNotNL:
				edge('\n', '\n')
			}
		}
	}
	out := make([]rune, 0, len(bounds))
	for r := range bounds {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// closure answers the instructions reachable from pcs without reading a
// rune: those that read one, the match, and the assertions that held back.
func (t term) closure(pcs []uint32, atStart, atEnd bool) []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	stack := slices.Clone(pcs)
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		in := &t.prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Out, in.Arg)
		case syntax.InstNop, syntax.InstCapture:
			stack = append(stack, in.Out)
		case syntax.InstEmptyWidth:
			if t.passes(syntax.EmptyOp(in.Arg), atStart, atEnd) {
				stack = append(stack, in.Out)
			} else {
				out = append(out, pc)
			}
		case syntax.InstFail:
		default:
			out = append(out, pc)
		}
	}
	slices.Sort(out)
	return out
}

func (t term) passes(op syntax.EmptyOp, atStart, atEnd bool) bool {
	ok := true
	for bit := syntax.EmptyOp(1); bit <= syntax.EmptyNoWordBoundary; bit <<= 1 {
		if op&bit == 0 {
			continue
		}
		switch bit {
		case syntax.EmptyBeginText:
			ok = ok && atStart
		case syntax.EmptyEndText:
			ok = ok && atEnd
		case syntax.EmptyBeginLine:
			ok = ok && (atStart || t.include)
		case syntax.EmptyEndLine:
			ok = ok && (atEnd || t.include)
		default:
			ok = ok && t.include
		}
	}
	return ok
}

func (t term) accepts(set []uint32, atStart bool) bool {
	for _, pc := range t.closure(set, atStart, true) {
		if t.prog.Inst[pc].Op == syntax.InstMatch {
			return true
		}
	}
	return false
}

func (t term) step(set []uint32, r rune) []uint32 {
	var next []uint32
	for _, pc := range set {
		in := &t.prog.Inst[pc]
		var ok bool
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1:
			ok = in.MatchRune(r)
		case syntax.InstRuneAny:
			ok = true
		case syntax.InstRuneAnyNotNL:
			ok = r != '\n'
		}
		if ok {
			next = append(next, in.Out)
		}
	}
	if len(next) == 0 {
		return nil
	}
	return t.closure(next, false, false)
}
