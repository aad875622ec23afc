"""The contracts' enums: stable English codes, the Indonesian field terms documented beside
them."""

from __future__ import annotations

from enum import StrEnum


class FundingSource(StrEnum):
    """Where a unit's money for a year comes from."""

    BNN = "bnn"  # national budget (APBN) through BNN
    APBD = "apbd"  # regional budget: "self-formed" (mandiri) units
    DANA_DESA = "dana_desa"  # village fund from the national budget
    ADD = "add"  # Alokasi Dana Desa: village allocation from the regency budget
    SELF_HELP = "self_help"  # swadaya masyarakat
    CSR = "csr"  # company social responsibility funds


class UnitFormation(StrEnum):
    """How a unit came to be formed."""

    BNN_TARGET = "bnn_target"  # formed against BNN's national yearly target
    MANDIRI = "mandiri"  # self-formed by the region or village with its own budget


class UnitStatus(StrEnum):
    """Administrative status of a unit. Whether it is *operational* in a period is not a
    status: reporting derives it from the activities the unit holds."""

    ACTIVE = "active"  # aktif
    SUSPENDED = "suspended"  # dibekukan sementara: may resume
    DISSOLVED = "dissolved"  # dibubarkan: a revival is a change back to active


class UnitStatusReason(StrEnum):
    """Why a unit's status changed: a code, never free text."""

    NO_ACTIVITY = "no_activity"
    AGENTS_UNAVAILABLE = "agents_unavailable"
    FUNDING_ENDED = "funding_ended"
    VILLAGE_DECISION = "village_decision"  # keputusan kepala desa / lurah
    FACILITATOR_REVIEW = "facilitator_review"  # after BNNP/BNNK supervision
    ACTIVITY_RESUMED = "activity_resumed"  # revival of a suspended or dissolved unit
    MERGED = "merged"
    REGION_CHANGED = "region_changed"  # the village split or merged by decree
    DATA_CORRECTION = "data_correction"
    OTHER = "other"


class AgentRole(StrEnum):
    """An agent's role in the unit's team."""

    COORDINATOR = "coordinator"  # koordinator / ketua
    MEMBER = "member"  # anggota


class TrainingKind(StrEnum):
    """Kind of training a recovery agent completed."""

    BASIC = "basic"  # pelatihan dasar agen pemulihan
    ASSIST_SCREENING = "assist_screening"  # administering WHO ASSIST v3.1
    ADVANCED = "advanced"  # pelatihan lanjutan
    REFRESHER = "refresher"  # penyegaran


class AgentDeactivationReason(StrEnum):
    """Why an agent stopped serving in a unit: a code, never free text."""

    RESIGNED = "resigned"
    MOVED_AWAY = "moved_away"
    INACTIVE = "inactive"
    TERM_ENDED = "term_ended"
    DISMISSED = "dismissed"  # by the village head's decree
    DECEASED = "deceased"
    UNIT_DISSOLVED = "unit_dissolved"
    OTHER = "other"


class RiskLevel(StrEnum):
    """ASSIST risk level. Indonesian practice: low = *ringan*, moderate = *sedang*,
    high = *berat*."""

    LOW = "low"  # ringan: general advice, stays in the unit
    MODERATE = "moderate"  # sedang: brief intervention; unit or Klinik Pratama (per province)
    HIGH = "high"  # berat: brief intervention and referral to residential care

    @property
    def rank(self) -> int:
        return _RISK_RANK[self]


_RISK_RANK = {RiskLevel.LOW: 0, RiskLevel.MODERATE: 1, RiskLevel.HIGH: 2}


class AssistSubstance(StrEnum):
    """The ten WHO ASSIST v3.1 substance classes, items a to j."""

    TOBACCO = "tobacco"  # a
    ALCOHOL = "alcohol"  # b
    CANNABIS = "cannabis"  # c
    COCAINE = "cocaine"  # d
    AMPHETAMINE_TYPE_STIMULANTS = "amphetamine_type_stimulants"  # e: shabu, ecstasy
    INHALANTS = "inhalants"  # f
    SEDATIVES = "sedatives"  # g
    HALLUCINOGENS = "hallucinogens"  # h
    OPIOIDS = "opioids"  # i
    OTHER = "other"  # j


class AssistFrequency(StrEnum):
    """ASSIST answer codes of Q2-Q5: how often, in the past three months."""

    NEVER = "never"
    ONCE_OR_TWICE = "once_or_twice"
    MONTHLY = "monthly"
    WEEKLY = "weekly"
    DAILY = "daily"  # daily or almost daily


class AssistRecency(StrEnum):
    """ASSIST answer codes of Q6-Q8: no, never / yes, in the past 3 months / yes, but not in
    the past 3 months."""

    NEVER = "never"
    PAST_3_MONTHS = "past_3_months"
    EARLIER = "earlier"


class Programme(StrEnum):
    """IBM sub-programme under which a screening took place."""

    SIL = "sil"  # Skrining Intervensi Lapangan: field screening with a brief intervention
    PBM = "pbm"  # Pemulihan Berbasis Masyarakat: community-based recovery in the unit


class Sex(StrEnum):
    """Sex as recorded for aggregate reporting only."""

    MALE = "male"  # laki-laki
    FEMALE = "female"  # perempuan


class AdmissionRoute(StrEnum):
    """How a client came to the unit."""

    VOLUNTARY = "voluntary"  # sukarela: self or family
    COMPULSORY = "compulsory"  # ordered by an integrated assessment team (TAT) after arrest
    AFTERCARE = "aftercare"  # bina lanjut after another service


class AftercareSource(StrEnum):
    """The service a client finished before coming to the unit for aftercare."""

    PBM = "pbm"  # community-based recovery in another unit
    SIL = "sil"  # a field screening brief intervention
    KLINIK_PRATAMA = "klinik_pratama"  # outpatient care at a Klinik Pratama BNN
    BALAI = "balai"  # inpatient care at a Balai/Loka Rehabilitasi BNN


class CaseStage(StrEnum):
    """Stage of a client's case along the 16-week course."""

    SCREENING = "screening"  # skrining (week 1)
    INTAKE = "intake"  # penerimaan awal
    SERVICES = "services"  # konseling dan dukungan
    AFTERCARE = "aftercare"  # bina lanjut
    CLOSED = "closed"


class ClosureOutcome(StrEnum):
    """How a case ended."""

    COMPLETED = "completed"
    DROPPED_OUT = "dropped_out"
    REFERRED_OUT = "referred_out"
    MOVED = "moved"
    DIED = "died"
    WITHDRAWN = "withdrawn"
    """The person withdrew: their data was erased at their request."""
    OTHER = "other"


class EarlyCompletion(StrEnum):
    """Why a case is completed before its 16 weeks are over."""

    GOALS_MET = "goals_met"
    """The agent and the client agree the recovery plan's goals are met."""
    CLINICAL_ASSESSMENT = "clinical_assessment"
    """A clinician's assessment ended the service early."""
    SHORTER_AFTERCARE = "shorter_aftercare"
    """An aftercare admission that needed fewer weeks."""


class ReferralDestinationType(StrEnum):
    """Kind of service a client is referred to."""

    KLINIK_PRATAMA = "klinik_pratama"  # Klinik Pratama BNN: outpatient
    BALAI_REHABILITASI = "balai_rehabilitasi"  # Balai Rehabilitasi BNN: residential
    LOKA_REHABILITASI = "loka_rehabilitasi"  # Loka Rehabilitasi BNN: residential
    RUMAH_SAKIT = "rumah_sakit"  # hospital
    IPWL = "ipwl"  # Institusi Penerima Wajib Lapor: mandatory self-report
    OTHER = "other"


class ReferralReason(StrEnum):
    """Why a client was referred: a code, never free text."""

    HIGH_RISK = "high_risk"
    MODERATE_RISK = "moderate_risk"  # the province's routing policy sends moderate risk on
    MEDICAL_NEED = "medical_need"
    PSYCHIATRIC_NEED = "psychiatric_need"
    MANDATORY_SELF_REPORT = "mandatory_self_report"  # wajib lapor at an IPWL
    CLIENT_REQUEST = "client_request"
    OTHER = "other"


class ReferralResolution(StrEnum):
    """What became of a referral, as far as the unit knows."""

    ACCEPTED = "accepted"  # the destination accepted the client
    ATTENDED = "attended"  # the client started the service there
    DECLINED = "declined"  # the client or the destination declined
    NO_SHOW = "no_show"  # the client did not arrive


class RelapseSource(StrEnum):
    """How a relapse became known to the unit."""

    SELF_REPORT = "self_report"
    FAMILY_REPORT = "family_report"
    AGENT_OBSERVATION = "agent_observation"
    URINE_TEST = "urine_test"
    RESCREENING = "rescreening"


class SessionType(StrEnum):
    """Kind of session in a client's case plan."""

    INTAKE = "intake"  # penerimaan awal
    BRIEF_INTERVENTION = "brief_intervention"  # intervensi singkat
    INDIVIDUAL_COUNSELLING = "individual_counselling"  # konseling individu
    GROUP_COUNSELLING = "group_counselling"  # konseling kelompok
    FAMILY_COUNSELLING = "family_counselling"  # konseling keluarga
    PSYCHOEDUCATION = "psychoeducation"  # psikoedukasi
    HOME_VISIT = "home_visit"  # kunjungan rumah
    RESCREENING = "rescreening"  # ASSIST again to measure change
    AFTERCARE = "aftercare"  # bina lanjut


class SessionMissReason(StrEnum):
    """Why a planned session did not take place: a code, never free text."""

    CLIENT_ABSENT = "client_absent"
    CLIENT_UNREACHABLE = "client_unreachable"
    CLIENT_RESCHEDULED = "client_rescheduled"
    AGENT_UNAVAILABLE = "agent_unavailable"
    FORCE_MAJEURE = "force_majeure"  # disaster, weather, access cut
    OTHER = "other"


class RescheduleReason(StrEnum):
    """Why a session moved to another date: a code, never free text."""

    CLIENT_REQUEST = "client_request"
    AGENT_UNAVAILABLE = "agent_unavailable"
    PUBLIC_HOLIDAY = "public_holiday"  # hari libur, Ramadan/Idulfitri weeks
    FORCE_MAJEURE = "force_majeure"
    OTHER = "other"


class ActivityType(StrEnum):
    """Community activity a unit holds; these make a unit count as operational."""

    AWARENESS = "awareness"  # sosialisasi
    MAPPING = "mapping"  # pemetaan
    OUTREACH = "outreach"  # penjangkauan
    SCREENING_DAY = "screening_day"  # hari skrining
