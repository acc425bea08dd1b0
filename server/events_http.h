/* Alarms in the server (server/events_http.c): GET /api/v1/events, the alarm lines of /metrics,
 * and the glue between the evaluator (jialing/alarm.h) and the webhook notifier
 * (server/webhook.h): each firing and resolved event becomes an Alertmanager document under a
 * stable key, and a delivery reported by the notifier is stored as "notified" on the event. */
#ifndef JIALING_SERVER_EVENTS_HTTP_H
#define JIALING_SERVER_EVENTS_HTTP_H

#include "jialing/alarm.h"
#include "jialing/server.h"
#include "webhook.h"

#define SV_EVENTS_PATH "/api/v1/events"

/* Answers GET /api/v1/events?from&to&state&rule&series&format (see events_http.c for the
 * shape). Never fails: errors become a status and a JSON {"error": "..."} body. */
void sv_events_handle(sv_context *context, const sv_request *request, sv_response *response);

/* Appends the alarm lines of /metrics (nothing when no rules are loaded). JL_OK or JL_ENOMEM. */
int sv_events_metrics(const sv_context *context, jl_buf *out);

/* The notifier's glue: al_options.notify with ctx = &config (sv_config, its notifier set), and
 * wh_options.on_delivered with ctx = &config (its alarms set). */
void sv_alarm_notify(void *ctx, const st_event *event, const al_rule *rule, unsigned state);
void sv_alarm_delivered(void *ctx, const char *key);

/* Writes the stable key of an event's notification in state (ST_EVENT_NOTIFIED_*) into
 * out[WH_KEY_BYTES]: "<rule>:<FNV-1a 64 of the series key, 16 hex>:<start_ms>:<firing|resolved>"
 * then "#<event id>" (a function of the same event, which the delivery report is read back by).
 */
#define SV_ALARM_KEY_BYTES 256
void sv_alarm_key(const st_event *event, unsigned state, char out[SV_ALARM_KEY_BYTES]);

/* Appends the Alertmanager document (version "4", one alert) of event in state to out: labels
 * alertname (the rule), __name__ and the tags of the series, then the rule's labels (a name
 * already taken keeps its first value); annotations summary (the rule's, when it has one),
 * series, rule_kind, peak, count, event_id, late; startsAt the event's start, endsAt its end
 * when resolved. JL_OK, JL_ENOMEM or JL_EINVAL. */
int sv_alarm_document(const st_event *event, const al_rule *rule, unsigned state, jl_buf *out,
                      jl_error *err);

#endif
