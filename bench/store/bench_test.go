package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/postgres/pgtest"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

func benchDrivers(b *testing.B, fn func(b *testing.B, st store.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "secrets.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		fn(b, st)
	})
	b.Run("postgres", func(b *testing.B) { fn(b, pgtest.Open(b)) })
}

func service(st store.Store) (*secrets.Service, context.Context) {
	k, _ := fernet.ParseKey(benchKey)
	ring, _ := fernet.NewRing(k)
	ctx := audit.WithCaller(context.Background(), audit.Caller{Actor: "bench", Source: "local"})
	return secrets.New(st, ring, audit.Discard{}, time.Now), ctx
}

func BenchmarkPut(b *testing.B) {
	benchDrivers(b, func(b *testing.B, st store.Store) {
		svc, ctx := service(st)
		v := sensitive.New(strings.Repeat("v", 64))
		i := 0
		for b.Loop() {
			if _, err := svc.Put(ctx, fmt.Sprintf("p/%d", i%1000), v, secrets.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkGet(b *testing.B) {
	benchDrivers(b, func(b *testing.B, st store.Store) {
		svc, ctx := service(st)
		fill(ctx, svc, 1000, 1)
		i := 0
		for b.Loop() {
			if _, err := svc.Get(ctx, fmt.Sprintf("bench/%07d", i%1000), 0); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkGetParallel(b *testing.B) {
	benchDrivers(b, func(b *testing.B, st store.Store) {
		svc, ctx := service(st)
		fill(ctx, svc, 1000, 1)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := svc.Get(ctx, fmt.Sprintf("bench/%07d", i%1000), 0); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
