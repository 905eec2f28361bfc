package provider_test

import (
	"context"
	"fmt"
	"log"
	"os"

	of "github.com/open-feature/go-sdk/openfeature"

	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/provider"
)

func ExampleNew() {
	client, err := vane.NewClient(vane.Config{BaseURL: "http://localhost:8000", SDKKey: os.Getenv("VANE_SDK_KEY")})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	if err := of.SetProviderAndWait(provider.New(client)); err != nil {
		log.Print(err) // not ready in time: evaluations return their defaults until it is
	}
	enabled, _ := of.NewDefaultClient().BooleanValue(context.Background(), "new-checkout-flow", false,
		of.NewEvaluationContext("user-123", map[string]any{"plan": "enterprise"}))
	fmt.Println(enabled)
}
