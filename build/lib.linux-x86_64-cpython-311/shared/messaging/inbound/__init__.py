"""Answering provinces: the path every service shares for what provinces publish on their
inbound topics (`ibm.inbound.<province>`).

Every message gets exactly one answer on the province's receipts topic, from exactly one
service, chosen from the `ce_type` header before any body is decoded (`shared.contracts.
inbound`). The owner takes a partition's batch in one transaction:

1. claims the records' coordinates in its inbox (a redelivered record was answered already);
2. decodes them; a broken contract, or a type no service accepts, is refused at once;
3. answers an id it accepted before with `EventAccepted(duplicate=true)` and the canonical
   event of the first acceptance;
4. hands the rest to the service's set-based `ApplyBatch`, which answers each submission
   `Accepted` (with its canonical event) or `Refused` (with field and rule);
5. writes every receipt and accepted id with one statement each.

Failure classes. What a retry cannot fix — broken contract, domain rule, unknown reference,
constraint violation — is a refusal, answered at once, never retried. Infrastructure
failures (database or broker unreachable, timeouts, locks) propagate: the consumer stalls and
resumes from the committed offset. Anything else is our bug: the batch is applied again one
submission at a time to isolate it, the province gets `EventRejected` with rule
`internal-error`, and the record goes to the dead-letter topic, which alarms.
"""
