package schedule

import "log/slog"

// cronLogger adapts a *slog.Logger to cron.Logger. cron reports every wake-up and
// scheduling decision through Info; those go to Debug so that Info keeps one line per run.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, keysAndValues ...any) {
	l.log.Debug(msg, keysAndValues...)
}

func (l cronLogger) Error(err error, msg string, keysAndValues ...any) {
	l.log.Error(msg, append([]any{slog.Any("error", err)}, keysAndValues...)...)
}
