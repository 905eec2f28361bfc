package vane_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/vanetest"
)

func ExampleNewClient() {
	client, err := vane.NewClient(vane.Config{BaseURL: "http://localhost:8000", SDKKey: os.Getenv("VANE_SDK_KEY")})
	if err != nil {
		log.Fatal(err) // only a bad configuration fails here; syncing runs in the background
	}
	defer func() { _ = client.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.WaitReady(ctx); err != nil {
		log.Print("no configuration yet: evaluations return their fallbacks")
	}
	if client.IsFeatureEnabled("new-checkout-flow", "user-123", map[string]any{"plan": "enterprise", "country": "US"}) {
		fmt.Println("new checkout")
	}
}

func ExampleClient_Evaluate() {
	td := vanetest.New().Value("checkout-layout", "one-page")
	client, _ := td.Client()
	defer func() { _ = client.Close() }()

	d := client.Evaluate("checkout-layout", vane.Context{"key": "user-123", "plan": "enterprise"})
	fmt.Println(d.Value, d.Variation, d.Reason)

	d = client.Evaluate("no-such-flag", vane.Context{"key": "user-123"})
	fmt.Println(d.Reason, d.ErrorCode)
	// Output:
	// one-page value DEFAULT
	// ERROR FLAG_NOT_FOUND
}
