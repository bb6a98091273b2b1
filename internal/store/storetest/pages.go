package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// runPages runs the suite of the console's paged reads.
func runPages(t *testing.T, open opener) {
	runAll(t, open.fresh, []subtest[store.Store]{{"SecretPages", testSecretPages}, {"Folders", testFolders}})
	runAll(t, open.self, []subtest[opener]{{"AuditPages", testAuditPages}, {"LastAccess", testLastAccess}})
}

var pageNames = []string{
	"app/web/session", "app/web/cookie", "db/gateway/password", "db/worker/password", "llm/anthropic_api_key",
	"llm/openai_api_key", "llm/openai/org", "llm/Mistral_KEY", "llm_x", "top", "100%_real", "a_b", "ab",
}

// walk pages through q from the start, limit rows at a time.
func walk(t *testing.T, st store.Store, q store.SecretPageQuery) []string {
	t.Helper()
	var got []string
	for i := 0; ; i++ {
		pg, err := st.SecretPage(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Secrets) > q.Limit {
			t.Fatalf("page of %d rows, limit %d", len(pg.Secrets), q.Limit)
		}
		for _, s := range pg.Secrets {
			got = append(got, s.Name)
		}
		if pg.Next == "" {
			return got
		}
		if pg.Next != got[len(got)-1] || i > 100 {
			t.Fatalf("next %q after %v", pg.Next, got)
		}
		q.After = pg.Next
	}
}

// putPageNames writes pageNames and deletes db/worker/password.
func putPageNames(t *testing.T, st store.Store) {
	t.Helper()
	for _, n := range pageNames {
		put(t, st, n, "v")
	}
	if err := st.Delete(context.Background(), "db/worker/password", time.Now()); err != nil {
		t.Fatal(err)
	}
}

func testSecretPages(t *testing.T, st store.Store) {
	putPageNames(t, st)
	want := func(keep func(string) bool, deleted bool) []string {
		var out []string
		for _, n := range pageNames {
			if keep(n) && (deleted || n != "db/worker/password") {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out
	}
	own := func(prefix string) func(string) bool {
		return func(n string) bool {
			return strings.HasPrefix(n, prefix) && !strings.Contains(n[len(prefix):], "/")
		}
	}
	search := func(prefix, s string) func(string) bool {
		return func(n string) bool {
			return strings.HasPrefix(n, prefix) && strings.Contains(strings.ToLower(n), strings.ToLower(s))
		}
	}
	for _, tc := range []struct {
		name string
		q    store.SecretPageQuery
		want []string
	}{
		{"top", store.SecretPageQuery{Limit: 2}, want(own(""), false)},
		{"folder", store.SecretPageQuery{Prefix: "llm/", Limit: 1}, want(own("llm/"), false)},
		{"search every level", store.SecretPageQuery{Search: "OPENAI", Limit: 1}, want(search("", "openai"), false)},
		{"search under a prefix", store.SecretPageQuery{Prefix: "db/", Search: "password", Limit: 5, Deleted: true}, want(search("db/", "password"), true)},
		{"search for a LIKE wildcard", store.SecretPageQuery{Search: "%", Limit: 3}, []string{"100%_real"}},
		{"search for an underscore", store.SecretPageQuery{Search: "a_", Limit: 3}, want(search("", "a_"), false)},
		{"deleted", store.SecretPageQuery{Prefix: "db/worker/", Limit: 3, Deleted: true}, []string{"db/worker/password"}},
		{"not deleted", store.SecretPageQuery{Prefix: "db/worker/", Limit: 3}, nil},
		{"a prefix is not a folder", store.SecretPageQuery{Prefix: "llm", Search: "_", Limit: 10}, want(search("llm", "_"), false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := walk(t, st, tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func testFolders(t *testing.T, st store.Store) {
	ctx := context.Background()
	putPageNames(t, st)
	for _, tc := range []struct {
		prefix  string
		deleted bool
		limit   int
		want    []string
	}{
		{"", false, 10, []string{"app", "db", "llm"}},
		{"", false, 2, []string{"app", "db"}},
		{"db/", false, 10, []string{"gateway"}},
		{"db/", true, 10, []string{"gateway", "worker"}},
		{"llm/", false, 10, []string{"openai"}},
		{"app/web/", false, 10, nil},
		{"nope/", false, 10, nil},
	} {
		got, err := st.SecretFolders(ctx, tc.prefix, tc.deleted, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("folders of %q (deleted %v, limit %d): %v, want %v", tc.prefix, tc.deleted, tc.limit, got, tc.want)
		}
	}
}

func testAuditPages(t *testing.T, open opener) {
	st, _ := open(t)
	ctx := context.Background()
	all := appendN(t, st, &audit.Linker{}, 0, 60)
	newest := slices.Clone(all)
	slices.Reverse(newest)
	for _, tc := range []struct {
		name   string
		q      store.AuditPageQuery
		filter audit.Query
	}{
		{"all", store.AuditPageQuery{Limit: 7}, audit.Query{}},
		{"secret", store.AuditPageQuery{Secret: "app/s2", Limit: 4}, audit.Query{Secret: "app/s2"}},
		{"identity", store.AuditPageQuery{Service: "svc-1", Limit: 4}, audit.Query{Service: "svc-1"}},
		{"action", store.AuditPageQuery{Action: "write", Limit: 2}, audit.Query{Action: "write"}},
		{"failures", store.AuditPageQuery{Outcome: audit.Failure, Limit: 3}, audit.Query{Failed: true}},
		{"time range", store.AuditPageQuery{Since: auditT0.Add(10 * time.Second), Until: auditT0.Add(20 * time.Second), Limit: 4},
			audit.Query{Since: auditT0.Add(10 * time.Second), Until: auditT0.Add(20 * time.Second)}},
		{"action in small windows", store.AuditPageQuery{Action: "write", Limit: 2, Window: 7}, audit.Query{Action: "write"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got []int64
			for _, e := range newest {
				if tc.filter.Match(e) {
					want = append(want, e.Seq)
				}
			}
			q := tc.q
			for i := 0; ; i++ {
				pg, err := st.AuditPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(pg.Events) > q.Limit {
					t.Fatalf("page of %d, limit %d", len(pg.Events), q.Limit)
				}
				if pg.LookedTo != 0 && q.Window == 0 {
					t.Fatalf("a window without a window: %+v", pg)
				}
				for _, e := range pg.Events {
					got = append(got, e.Seq)
				}
				if pg.Next == 0 || i > 100 {
					break
				}
				q.Before = pg.Next
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func testLastAccess(t *testing.T, open opener) {
	st, _ := open(t)
	ctx := context.Background()
	all := appendN(t, st, &audit.Linker{}, 0, 60)
	for _, tc := range []struct {
		secret  string
		actions []string
	}{
		{"app/s2", []string{"read"}},
		{"app/s4", []string{"write"}},
		{"app/s4", []string{"write", "read"}},
		{"app/none", []string{"read"}},
		{"app/s1", nil},
	} {
		var want audit.Entry
		for _, e := range all {
			if e.Secret == tc.secret && e.Outcome == audit.Success && slices.Contains(tc.actions, e.Action) {
				want = e
			}
		}
		got, ok, err := st.LastAccess(ctx, tc.secret, tc.actions)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (want.Seq != 0) || got.Seq != want.Seq || ok && got.Hash != want.Hash {
			t.Errorf("%s %v: %d %v, want %d", tc.secret, tc.actions, got.Seq, ok, want.Seq)
		}
	}
}
