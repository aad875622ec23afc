"""The projector: canonical topics → fact rows, in batches, exactly once per read model.

Each `getmany` batch is decoded, folded (`projection.batch.Batch`) and written in one transaction:
one multi-row upsert per fact table, and the Kafka positions the batch reached, compare-and-set
so that two replicas (or a rebalance) can never apply the same records twice. Positions live in
the database, not in the consumer group, because they belong to one generation of the read
model: a rebuild (`rebuild.py`) projects the next generation from offset 0 while the live one
keeps serving, then switches generations in its last transaction; the live projector notices
and continues the new generation from where the rebuild stopped.

It reads the provinces' receipts topics too (`ibm.receipts.<province>`): each `EventRejected`
becomes a `rejections` row in the same transaction, one statement per batch, keyed by the
province and the id it gave its message; `EventAccepted` receipts are stepped over (what was
accepted arrives as a canonical event).

Invalid records go to `ibm.reporting.dlq` with the reason and never block a partition.

`consumer` is the consumer (`Projector`: the loop, a batch's transaction, the dead letters);
`preparing` turns a batch's records into a `Prepared` batch (decoded, folded, as column
arrays); `writing` holds the statements of a batch's transaction (rows, rejections, cube
changes, positions compare-and-set).
"""
