package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/db"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: vane migrate up|down|status")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	gdb, dialect, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath()})
	if err != nil {
		return err
	}
	defer func() { _ = db.Close(gdb) }()
	switch args[0] {
	case "up":
		n, err := db.MigrateUp(ctx, gdb, dialect)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
	case "down":
		if _, err := db.MigrateDown(ctx, gdb, dialect, -1); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "rolled back one migration")
	case "status":
		st, err := db.Status(ctx, gdb, dialect)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(stdout, "%05d  %-40s %s\n", s.Version, s.Name, state)
		}
	default:
		return fmt.Errorf("unknown migrate command %q (want up, down or status)", args[0])
	}
	return nil
}

func admin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: vane admin create-user|create-org|set-password [flags]")
	}
	fs := flag.NewFlagSet("vane admin "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "email address")
	username := fs.String("username", "", "username (optional)")
	name := fs.String("name", "", "display name")
	password := fs.String("password", "", "password (at least 10 characters, not a commonly breached one)")
	slug := fs.String("slug", "", "organization slug")
	adminUser := fs.String("admin", "", "email or username of the organization's first ADMIN")
	user := fs.String("user", "", "email or username")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	st, err := openStack(ctx, getenv, stderr, true)
	if err != nil {
		return err
	}
	defer st.close()
	switch args[0] {
	case "create-user":
		var u *string
		if *username != "" {
			u = username
		}
		created, err := st.svc.Auth.CreateUser(ctx, *email, u, *name, *password)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %s (%s)\n", created.Email, created.ID)
	case "create-org":
		if *adminUser == "" {
			return errors.New("--admin is required")
		}
		owner, err := models.UserByLogin(st.db.WithContext(ctx), *adminUser)
		if err != nil {
			return fmt.Errorf("--admin: %w", err)
		}
		n := *name
		if n == "" {
			n = *slug
		}
		sc := services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: owner.ID, Name: owner.Email}}
		org, err := st.svc.Orgs.Create(ctx, sc, services.OrgInput{Slug: *slug, Name: n})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created organization %s (%s) with ADMIN %s\n", org.Slug, org.ID, owner.Email)
	case "set-password":
		if err := st.svc.Auth.SetPassword(ctx, *user, *password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password set for %s; their sessions are signed out\n", *user)
	default:
		return fmt.Errorf("unknown admin command %q", args[0])
	}
	return nil
}
