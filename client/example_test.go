package client_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/server/servertest"
)

const examplePolicy = `services:
  gateway: {read: ["llm/*"]}
`

// startExampleServer runs a server with one secret; a real deployment runs
// "sa01-secrets serve".
func startExampleServer() *servertest.Server {
	srv, err := servertest.Start(examplePolicy, nil)
	if err != nil {
		panic(err)
	}
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-example", "db/password": "hunter2"}); err != nil {
		panic(err)
	}
	return srv
}

func Example() {
	srv := startExampleServer()
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL)
	if err != nil {
		panic(err)
	}
	defer c.Close() // stops background renewal

	// The service logs in with its own credential (client.FromEnv reads it
	// from the file SA01_SECRETS_CREDENTIAL_FILE names).
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		panic(err)
	}
	s, err := c.Get(ctx, "llm/openai_api_key")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Env, "version", s.Version, "has", len(s.Value()), "bytes")
	fmt.Println(s) // a Secret never prints its value
	// Output:
	// OPENAI_API_KEY version 1 has 10 bytes
	// {llm/openai_api_key v1 [REDACTED]}
}

func ExampleClient_Get_errors() {
	srv := startExampleServer()
	defer srv.Close()
	ctx := context.Background()
	c, _ := client.New(srv.URL)
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		panic(err)
	}

	_, err := c.Get(ctx, "db/password") // exists, but not granted
	fmt.Println(errors.Is(err, client.ErrDenied))
	_, err = c.Get(ctx, "db/nothing") // missing and not granted: the same answer
	fmt.Println(errors.Is(err, client.ErrDenied))
	_, err = c.Get(ctx, "llm/missing") // granted, but missing
	fmt.Println(errors.Is(err, client.ErrNotFound))

	anon, _ := client.New(srv.URL) // never logged in
	_, err = anon.Get(ctx, "llm/openai_api_key")
	fmt.Println(errors.Is(err, client.ErrUnauthenticated))
	// Output:
	// true
	// true
	// true
	// true
}

func ExampleClient_List() {
	srv := startExampleServer()
	defer srv.Close()
	ctx := context.Background()
	c, _ := client.New(srv.URL)
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		panic(err)
	}
	secrets, err := c.List(ctx, "")
	if err != nil {
		panic(err)
	}
	for _, m := range secrets { // only what the policy lets gateway read
		fmt.Println(m.Name, m.Env)
	}
	// Output:
	// llm/openai_api_key OPENAI_API_KEY
}
