module github.com/somaagent01/sa01-secrets

go 1.26.8

require github.com/spf13/cobra v1.10.2

// Test dependencies.
require github.com/fernet/fernet-go v0.0.0-20240119011108-303da6aec611

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
