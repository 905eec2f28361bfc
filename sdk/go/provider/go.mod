module github.com/vanehq/vane/sdk/go/provider

go 1.26.0

require (
	github.com/open-feature/go-sdk v1.20.0
	github.com/vanehq/vane/sdk/go v0.0.0
)

require go.uber.org/mock v0.6.0 // indirect

replace github.com/vanehq/vane/sdk/go => ../
