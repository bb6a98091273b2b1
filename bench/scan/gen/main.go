// Command gen writes the scanner benchmark's inputs from a seed, with
// internal/scan/corpus:
//
//	gen -seed N -dir DIR -size BYTES          # one file per shape, BYTES each
//	gen -seed N -mixed FILE -size BYTES       # one log interleaving the shapes
//
// Beside them (never inside what is scanned) it writes DIR.truth.jsonl or
// FILE.truth.jsonl (every planted secret: shape, kind, line, columns,
// value) and, for -mixed, FILE.runs.jsonl (which shape wrote which lines)
// and known.env (the known values, for sa01-secrets import). Every value
// is generated: none is a real credential.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/somaagent01/sa01-secrets/internal/scan/corpus"
)

func main() {
	seed := flag.Uint64("seed", corpus.HoldoutSeed, "generator seed")
	dir := flag.String("dir", "", "write one file per shape into this directory")
	mixed := flag.String("mixed", "", "write one log interleaving the shapes to this file")
	size := flag.Int64("size", 8<<20, "bytes per shape (-dir) or in all (-mixed)")
	every := flag.Int("secret-every", 0, "plant a secret in about one record of this many (0: the generator's default)")
	known := flag.Int("known", 1000, "known values to write to known.env and plant in the mixed log")
	knownEvery := flag.Int("known-every", 150, "plant a known value in about one burst of records of this many (mixed log)")
	flag.Parse()
	if (*dir == "") == (*mixed == "") {
		log.Fatal("give -dir or -mixed")
	}
	out := *dir
	if *mixed != "" {
		out = filepath.Dir(*mixed)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		log.Fatal(err)
	}
	// The truth file sits beside what is scanned, never inside it.
	truthName := filepath.Clean(*dir) + ".truth.jsonl"
	if *mixed != "" {
		truthName = *mixed + ".truth.jsonl"
	}
	tf, err := os.Create(truthName)
	if err != nil {
		log.Fatal(err)
	}
	tw := bufio.NewWriter(tf)
	tenc := json.NewEncoder(tw)
	planted := 0
	plant := func(p corpus.Planted) {
		planted++
		if err := tenc.Encode(p); err != nil {
			log.Fatal(err)
		}
	}
	o := corpus.Options{Seed: *seed, Size: *size, SecretEvery: *every}
	if *mixed != "" {
		o.Known = corpus.KnownValues(*seed, *known)
		o.KnownEvery = *knownEvery
		f, err := os.Create(*mixed)
		if err != nil {
			log.Fatal(err)
		}
		rf, err := os.Create(*mixed + ".runs.jsonl")
		if err != nil {
			log.Fatal(err)
		}
		rw := bufio.NewWriter(rf)
		renc := json.NewEncoder(rw)
		if err := corpus.WriteMixed(f, o, plant, func(r corpus.Run) { renc.Encode(r) }); err != nil {
			log.Fatal(err)
		}
		if err := rw.Flush(); err != nil {
			log.Fatal(err)
		}
		rf.Close()
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
		writeKnown(filepath.Join(out, "known.env"), o.Known)
	} else {
		for _, s := range corpus.Shapes() {
			f, err := os.Create(filepath.Join(*dir, s.Name+s.Ext))
			if err != nil {
				log.Fatal(err)
			}
			if err := s.Write(f, o, plant); err != nil {
				log.Fatal(err)
			}
			if err := f.Close(); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		log.Fatal(err)
	}
	tf.Close()
	fmt.Fprintf(os.Stderr, "gen: seed %d, %d planted secrets\n", *seed, planted)
}

// writeKnown writes the known values as a .env file for sa01-secrets
// import, 0600.
func writeKnown(name string, values []string) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i, v := range values {
		fmt.Fprintf(w, "SVC_%04d_API_KEY=%s\n", i, v)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	f.Close()
}
