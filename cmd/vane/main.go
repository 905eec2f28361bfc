// Command vane is the Vane feature-flag service: `vane serve` runs the API (and, by default, the
// background worker), `vane worker` runs only the worker, `vane migrate` manages the schema and
// `vane admin` creates users and organisations from the shell.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vane:", err)
		os.Exit(1)
	}
}

const usage = `usage: vane <command>

commands:
  serve                      run the HTTP API (and the worker unless VANE_WORKER=false)
  worker                     run the background worker only
  migrate up|down|status     apply, roll back one, or list schema migrations
  admin create-user --email E --password P [--username U] [--name N]
  admin create-org --slug S [--name N] --admin <email or username>
  admin set-password --user <email or username> --password P
  version                    print the version

Configuration comes from the environment; see README.md.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "worker":
		return worker(ctx, getenv, stderr)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stdout, stderr)
	case "admin":
		return admin(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "vane", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
