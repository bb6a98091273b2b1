package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// String form of a head kept as an anchor: "SEQ:HASH", as `audit head`
// prints it.
func (h Head) Anchor() string { return fmt.Sprintf("%d:%s", h.Seq, h.Hash) }

// ParseAnchor parses "SEQ:HASH" (the form `audit head` prints): SEQ in
// decimal digits without a sign or a leading zero, so that each head has
// one spelling.
func ParseAnchor(s string) (Head, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	canonical := seq != "" && strings.Trim(seq, "0123456789") == "" && (seq == "0" || seq[0] != '0')
	if !ok || err != nil || !canonical || len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return Head{}, errors.New("want SEQ:HASH as `audit head` prints it (64 lower-case hex digits)")
	}
	return Head{Seq: n, Hash: hash}, nil
}

// ReadAnchor returns the anchor arg names: "SEQ:HASH", or the path of an
// audit file, whose chain is verified under key and whose highest store
// head (Entry.Anchor) is taken. A file that does not verify, or carries no
// store head, is an error.
func ReadAnchor(arg string, key *MACKey) (Head, error) {
	if h, err := ParseAnchor(arg); err == nil {
		return h, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return Head{}, fmt.Errorf("--anchor: neither SEQ:HASH nor a readable audit file: %w", err)
	}
	defer f.Close()
	res, err := VerifyFile(f, key)
	if err != nil {
		return Head{}, fmt.Errorf("--anchor %s: %w", arg, err)
	}
	if !res.OK() {
		return Head{}, fmt.Errorf("--anchor %s: the audit file does not verify: %w", arg, res.Problem)
	}
	if res.Anchor == nil {
		return Head{}, fmt.Errorf("--anchor %s: the audit file records no head of the store's chain", arg)
	}
	return *res.Anchor, nil
}

// HeadReader reads the last entry of a store's chain.
type HeadReader interface {
	QueryAudit(ctx context.Context, q Query) ([]Entry, error)
}

// AuthenticHead returns the head of a store's chain after checking that
// its last entry's MAC verifies under key: the (seq, MAC) an operator
// keeps, out of the database writer's reach, to check the chain against
// later (Verifier.Anchor).
func AuthenticHead(ctx context.Context, st HeadReader, key *MACKey) (Head, error) {
	es, err := st.QueryAudit(ctx, Query{Newest: true, Limit: 1})
	if err != nil {
		return Head{}, err
	}
	if len(es) == 0 {
		return EmptyHead, nil
	}
	e := es[0]
	if h, err := key.HashOf(e); err != nil || !hmacEqual(h, e.Hash) {
		return Head{}, fmt.Errorf("audit: the last event (seq %d) does not verify under the audit key: run audit verify", e.Seq)
	}
	return e.Head(), nil
}
