package agentclient

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Subsystem is the tflog subsystem of the agent client's logs
// (TF_LOG_PROVIDER_KAFKA_AGENT_CLIENT sets its level).
const Subsystem = "agent_client"

// logContext adds the client's subsystem to ctx, with the token masked in
// every message and field.
func (c *Client) logContext(ctx context.Context) context.Context {
	ctx = tflog.NewSubsystem(ctx, Subsystem)
	ctx = tflog.SubsystemMaskFieldValuesWithFieldKeys(ctx, Subsystem, "Authorization", "authorization", "token")
	ctx = tflog.SubsystemMaskLogStrings(ctx, Subsystem, c.token)
	return ctx
}

// LeveledLogger sends go-retryablehttp's logs to tflog's agent_client
// subsystem of the request's context.
type LeveledLogger struct{ ctx context.Context }

var _ retryablehttp.LeveledLogger = LeveledLogger{}

func (l LeveledLogger) Error(msg string, kv ...any) {
	tflog.SubsystemError(l.ctx, Subsystem, msg, fields(kv))
}

func (l LeveledLogger) Warn(msg string, kv ...any) {
	tflog.SubsystemWarn(l.ctx, Subsystem, msg, fields(kv))
}

func (l LeveledLogger) Info(msg string, kv ...any) {
	tflog.SubsystemInfo(l.ctx, Subsystem, msg, fields(kv))
}

func (l LeveledLogger) Debug(msg string, kv ...any) {
	tflog.SubsystemDebug(l.ctx, Subsystem, msg, fields(kv))
}

// fields turns retryablehttp's alternating keys and values into a map.
func fields(kv []any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	if len(kv)%2 == 1 {
		m["extra"] = kv[len(kv)-1]
	}
	return m
}
