"""The indicators that are not plain counts: cumulative units, units against targets,
operational and sustained units, the median days from screening to intake and the referral
completion rate. Each computes its rows at a level; below province level the two derived
from clients are cut from the suppressed cubes of the counts they carry (admissions;
referrals with those attended), so they show a region exactly where those tables do and
carry only the figures those tables show.

`tables` answers a question (`special_table`: which function computes the rows, which are cut
from a cube); `units` computes the units' indicators (cumulative, against target, operational,
sustained, and what their shares divide); `clients` the two derived from clients (the median
days to intake, the referral completion rate) and how each is cut from its count's cube."""
