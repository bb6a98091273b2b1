package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/incident/respond"
	"github.com/somaagent01/sa01-secrets/internal/remote"
	"github.com/somaagent01/sa01-secrets/internal/scan"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

func incidentCommand(g *globals) *cobra.Command {
	return group("incident", "Respond to a compromised secret on the policy's clock",
		newIncidentOpenCommand(g), newIncidentStatusCommand(g), newIncidentReportCommand(g), newIncidentCloseCommand(g))
}

// withIncidents runs fn on the server (viaServer) when SA01_SECRETS_ADDR
// is set, else with the incident responder over the local store.
func withIncidents(cmd *cobra.Command, g *globals, fn func(ctx context.Context, d respond.Desk) error) error {
	if served, err := viaServer(cmd, g, func(ctx context.Context, b *remote.Backend) error { return fn(ctx, b) }); served {
		return err
	}
	l, err := openLocal(cmd.Context(), g)
	if err != nil {
		return err
	}
	defer l.Close()
	r := &respond.Responder{Store: l.st, Secrets: secrets.New(l.st, l.cfg.Keys, l.rec, time.Now), Recorder: l.rec, Now: time.Now, Actor: osUser()}
	err = fn(l.ctx, respond.Local{Responder: r})
	var nf *respond.NotFoundError
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		return withCode(ExitUnavailable, err, "check the store and SA01_SECRETS_AUDIT_FILE; the incident itself is saved")
	case errors.As(err, &nf) && strings.HasPrefix(nf.What, "no incident"):
		return withCode(ExitNotFound, err, "list open incidents with 'sa01-secrets incident status'")
	}
	return err
}

func newIncidentOpenCommand(g *globals) *cobra.Command {
	var reason, format string
	var revoke bool
	cmd := verb("open NAME --reason R", "Declare a secret compromised: stop serving it, replace it, start the clock", oneName("incident open"), func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(reason) == "" {
			return usageError("say why, e.g. --reason \"leaked in a ticket\"", "--reason is required")
		}
		if err := checkFormat(format, "text", "json"); err != nil {
			return err
		}
		return withIncidents(cmd, g, func(ctx context.Context, d respond.Desk) error {
			out, err := d.OpenIncident(ctx, args[0], reason, revoke)
			if err != nil {
				return err
			}
			if err := writeReport(g, format, out, func(w io.Writer) { fmt.Fprintln(w, scan.PrintableName(out.ID)) }); err != nil {
				return err
			}
			out.WriteNotes(g.stderr, args[0])
			return nil
		})
	})
	cmd.Flags().StringVar(&reason, "reason", "", "why the secret is compromised (required)")
	cmd.Flags().BoolVar(&revoke, "revoke-tokens", false, "revoke the tokens of every service that read the secret")
	cmd.Flags().StringVar(&format, "format", "text", "text (the ID) or json")
	return cmd
}

func newIncidentStatusCommand(g *globals) *cobra.Command {
	var format string
	var all bool
	cmd := verb("status [ID]", "Show each deadline of the procedure: met, due (time left) or missed", cobra.MaximumNArgs(1), func(cmd *cobra.Command, args []string) error {
		return withIncidents(cmd, g, func(ctx context.Context, d respond.Desk) error {
			out, err := d.IncidentStatus(ctx, strings.Join(args, ""), all)
			if err != nil {
				return err
			}
			missed := slices.ContainsFunc(out, func(so respond.Status) bool { return so.Missed })
			return writeVerdict(g, format, out, func(w io.Writer) { respond.WriteTable(w, out, time.Now()) }, !missed,
				"a deadline of the compromise procedure was missed")
		})
	})
	cmd.Flags().BoolVar(&all, "all", false, "without ID: closed incidents too")
	return withFormat(cmd, &format, "table", "json")
}

func newIncidentReportCommand(g *globals) *cobra.Command {
	var format, since string
	cmd := verb("report ID", "Write the incident report; marks the access-log audit done", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		from, err := parseTimeFlag("since", since, time.Now())
		if err != nil {
			return err
		}
		return withIncidents(cmd, g, func(ctx context.Context, d respond.Desk) error {
			rep, err := d.IncidentReport(ctx, args[0], from)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(g.stdout, rep)
			}
			return rep.WriteMarkdown(g.stdout)
		})
	})
	cmd.Flags().StringVar(&since, "since", "", "start of the access window (default: when the compromised version was written)")
	return withFormat(cmd, &format, "md", "json")
}

func newIncidentCloseCommand(g *globals) *cobra.Command {
	var review string
	cmd := verb("close ID --review NOTE", "Close an incident with the review of procedures", cobra.ExactArgs(1), func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(review) == "" {
			return usageError("summarise the review, e.g. --review \"added a pre-commit scan\"", "--review is required")
		}
		id := scan.PrintableName(args[0])
		return withIncidents(cmd, g, func(ctx context.Context, d respond.Desk) error {
			missed, err := d.CloseIncident(ctx, args[0], review)
			if errors.Is(err, incident.ErrClosed) || errors.Is(err, client.ErrConflict) {
				return withCode(ExitConflict, fmt.Errorf("incident %s is already closed", id), "")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "closed %s\n", id)
			if missed {
				fmt.Fprintln(g.stderr, "sa01-secrets: warning: some deadlines of this incident were missed; see 'sa01-secrets incident status "+id+"'")
			}
			return nil
		})
	})
	cmd.Flags().StringVar(&review, "review", "", "what the review of procedures concluded (required)")
	return cmd
}
