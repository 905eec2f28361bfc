module github.com/vanehq/vane/sdk/go

go 1.23
