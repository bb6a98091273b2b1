// Package scan finds secrets in text: files and directories, every line
// added in a git repository's history or index, docker images, and
// streams. A Scanner runs rules (the platform's own SA01_* secrets, Fernet
// keys, DSNs with passwords, service tokens, LLM and cloud provider keys,
// PEM private keys, generic password/secret/key/token assignments) and,
// given a KnownSet, exact matches of every managed secret's current and
// past values in their raw and encoded forms. Findings never hold a
// secret: excerpts mask it as ****, and fingerprints are keyed hashes
// (FingerprintKey) that baselines record.
//
// The Masker built on the same scanner is the log filter of `sa01-secrets
// mask` and of the process's own logger. RunInputs runs one scan over one
// kind of input on every core and summarises what was read. Baselines are
// written through package safefile. See docs/scanner.md.
package scan
