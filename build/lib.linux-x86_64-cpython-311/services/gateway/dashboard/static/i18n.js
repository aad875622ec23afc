// Words and numbers in Bahasa Indonesia (the default) or English.

const WORDS = {
  id: {
    title: "Dasbor IBM",
    subtitle: "Intervensi Berbasis Masyarakat: angka program, per wilayah",
    language: "Bahasa",
    login: "Masuk",
    loginLead: "Tempelkan token akses Anda (Bearer). Dalam pengembangan: `pulih auth token --role …` mencetaknya.",
    token: "Token akses",
    devRole: "Atau pilih peran (hanya mode pengembangan)",
    devLogin: "Masuk dengan peran ini",
    logout: "Keluar",
    badToken: "Token ditolak",
    noFigures: "Peran ini tidak membaca angka wilayah.",
    signedInAs: "Masuk sebagai",
    period: "Periode",
    periodKind: "Jenis periode",
    year: "Tahun",
    quarter: "Triwulan",
    month: "Bulan",
    range: "Rentang tahun",
    from: "Dari tahun",
    to: "Sampai tahun",
    indicator: "Indikator peta",
    cohort: "Kohort (tahun pembentukan)",
    breadcrumb: "Jejak wilayah",
    indonesia: "Indonesia",
    levels: { national: "Nasional", province: "Provinsi", regency: "Kabupaten/kota", district: "Kecamatan", village: "Desa/kelurahan" },
    map: "Peta",
    mapNote: "Klik wilayah di peta atau baris tabel untuk masuk ke dalamnya.",
    noMap: "Batas kecamatan dan desa tidak dimuat: lihat tabel.",
    region: "Wilayah",
    value: "Nilai",
    events: "Peristiwa",
    latestEvent: "Data per",
    latestReceived: "Diterima terakhir",
    noUnits: "belum ada unit",
    legendNone: "Tidak ada unit",
    chart: "Grafik",
    table: "Tabel",
    csv: "Unduh CSV",
    withheld: "ditahan",
    withheldMark: "◆",
    withheldNote: (k, u) => `◆ ditahan: angka klien di bawah provinsi yang kurang dari ${k}, atau berasal dari kurang dari ${u} unit, tidak ditampilkan untuk melindungi klien — begitu pula angka lain yang dapat membukanya. Bukan nol.`,
    noFigure: "—",
    noFigureNote: "— tidak ada angka (tidak ada yang dihitung).",
    loading: "Memuat…",
    failed: "Gagal memuat",
    drill: (name) => `Buka ${name}`,
    panels: {
      regions: "Per wilayah",
      units: "Unit dibentuk per tahun terhadap target, dan kumulatif",
      operational: "Unit operasional dan berkelanjutan (kohort)",
      risk: "Klien diskrining menurut tingkat risiko",
      substance: "Klien diskrining menurut zat",
      admissions: "Penerimaan menurut jalur",
      pathway: "Alur layanan",
      referrals: "Rujukan menurut tujuan",
      relapses: "Kekambuhan menurut sumber",
      agents: "Agen pemulihan",
      activities: "Kegiatan masyarakat",
      health: "Kesehatan data per provinsi",
    },
    cols: {
      year: "Tahun", formed: "Dibentuk", target: "Target", share: "Capaian", cumulative: "Kumulatif",
      measure: "Ukuran", numerator: "Pembilang", denominator: "Penyebut",
      part: "Kategori", count: "Jumlah", step: "Tahap", rate: "Tingkat penyelesaian",
      participants: "Peserta", asOf: "Data per", lag: "Jeda kedatangan (median)", reporting: "Unit melapor",
      arrived: "Fakta masuk", late: "Terlambat", restated: "Bulan yang direvisi", rejected: "Kiriman ditolak",
    },
    measures: {
      operational: "Unit operasional", sustained: "Unit berkelanjutan",
      screened: "Diskrining", enrolled: "Diterima", appointed: "Agen diangkat", trained: "Agen dilatih",
      activities: "Kegiatan", participants: "Peserta", rate: "Rujukan dihadiri",
    },
    notAvailable: "tidak tersedia",
    healthNote: (month) => `Bulan ${month}, menurut zona waktu provinsi. Data per: kapan fakta terakhir terjadi. Jeda: median waktu dari kejadian hingga diterima. Terlambat: fakta yang masuk bulan ini tetapi terjadi pada bulan sebelumnya, sehingga merevisi bulan itu. Unit melapor: unit yang faktanya masuk bulan ini. Kiriman ditolak: pesan provinsi yang ditolak platform bulan ini (tanda terima EventRejected), tiap pesan sekali; tidak tersedia di bawah tingkat provinsi, karena tanda terima hanya menyebut provinsi.`,
    indicators: {
      clients_screened: "Klien diskrining", units_formed: "Unit dibentuk", units_cumulative: "Unit kumulatif",
      admissions: "Penerimaan", activities: "Kegiatan", agents_trained: "Agen dilatih",
      closures: "Kasus ditutup", referrals: "Rujukan", relapses: "Kekambuhan",
    },
    parts: {
      low: "Rendah", moderate: "Sedang", high: "Tinggi",
      tobacco: "Tembakau", alcohol: "Alkohol", cannabis: "Ganja", cocaine: "Kokain",
      amphetamine_type_stimulants: "Stimulan jenis amfetamin", inhalants: "Inhalan", sedatives: "Sedatif",
      hallucinogens: "Halusinogen", opioids: "Opioid", other: "Lainnya",
      voluntary: "Sukarela", compulsory: "Wajib", aftercare: "Pascarehabilitasi",
      completed: "Selesai", dropped_out: "Putus", referred_out: "Dirujuk keluar", moved: "Pindah",
      died: "Meninggal", withdrawn: "Mengundurkan diri",
      klinik_pratama: "Klinik pratama", balai_rehabilitasi: "Balai rehabilitasi", loka_rehabilitasi: "Loka rehabilitasi",
      rumah_sakit: "Rumah sakit", ipwl: "IPWL",
      self_report: "Laporan sendiri", family_report: "Laporan keluarga", agent_observation: "Pengamatan agen",
      urine_test: "Tes urine", rescreening: "Skrining ulang",
      awareness: "Penyuluhan", mapping: "Pemetaan", outreach: "Penjangkauan", screening_day: "Hari skrining",
    },
    months: ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"],
    days: "hari",
  },
  en: {
    title: "IBM dashboard",
    subtitle: "Community-based intervention: the programme's figures, by region",
    language: "Language",
    login: "Sign in",
    loginLead: "Paste your access token (Bearer). In development, `pulih auth token --role …` prints one.",
    token: "Access token",
    devRole: "Or pick a role (development mode only)",
    devLogin: "Sign in with this role",
    logout: "Sign out",
    badToken: "Token refused",
    noFigures: "This role reads no regional figures.",
    signedInAs: "Signed in as",
    period: "Period",
    periodKind: "Kind of period",
    year: "Year",
    quarter: "Quarter",
    month: "Month",
    range: "Range of years",
    from: "From year",
    to: "To year",
    indicator: "Map indicator",
    cohort: "Cohort (years formed)",
    breadcrumb: "Region trail",
    indonesia: "Indonesia",
    levels: { national: "National", province: "Province", regency: "Regency/city", district: "District", village: "Village" },
    map: "Map",
    mapNote: "Click a region on the map or a table row to open it.",
    noMap: "District and village boundaries are not loaded: see the table.",
    region: "Region",
    value: "Value",
    events: "Events",
    latestEvent: "Data as of",
    latestReceived: "Last received",
    noUnits: "no unit yet",
    legendNone: "No unit",
    chart: "Chart",
    table: "Table",
    csv: "Download CSV",
    withheld: "withheld",
    withheldMark: "◆",
    withheldNote: (k, u) => `◆ withheld: client figures below province level under ${k}, or made of fewer than ${u} units, are not shown to protect clients — nor are other figures that would give them away. Not zero.`,
    noFigure: "—",
    noFigureNote: "— no figure (nothing to compute).",
    loading: "Loading…",
    failed: "Could not load",
    drill: (name) => `Open ${name}`,
    panels: {
      regions: "By region",
      units: "Units formed per year against target, and cumulative",
      operational: "Operational and sustained units (cohort)",
      risk: "Clients screened by risk level",
      substance: "Clients screened by substance",
      admissions: "Admissions by route",
      pathway: "Pathway flow",
      referrals: "Referrals by destination",
      relapses: "Relapses by source",
      agents: "Recovery agents",
      activities: "Community activities",
      health: "Data health by province",
    },
    cols: {
      year: "Year", formed: "Formed", target: "Target", share: "Achieved", cumulative: "Cumulative",
      measure: "Measure", numerator: "Numerator", denominator: "Denominator",
      part: "Category", count: "Count", step: "Step", rate: "Completion rate",
      participants: "Participants", asOf: "Data as of", lag: "Arrival lag (median)", reporting: "Units reporting",
      arrived: "Facts arrived", late: "Late", restated: "Months restated", rejected: "Rejected submissions",
    },
    measures: {
      operational: "Operational units", sustained: "Sustained units",
      screened: "Screened", enrolled: "Enrolled", appointed: "Agents appointed", trained: "Agents trained",
      activities: "Activities", participants: "Participants", rate: "Referrals attended",
    },
    notAvailable: "not available",
    healthNote: (month) => `Month ${month}, in each province's time zone. Data as of: when the latest fact happened. Lag: median time from a fact happening to its arrival. Late: facts that arrived this month but happened in an earlier one, restating it. Units reporting: units with a fact that arrived this month. Rejected submissions: the province's messages the platform refused this month (EventRejected receipts), each message once; not available below province level, as receipts name only the province.`,
    indicators: {
      clients_screened: "Clients screened", units_formed: "Units formed", units_cumulative: "Units (cumulative)",
      admissions: "Admissions", activities: "Activities", agents_trained: "Agents trained",
      closures: "Cases closed", referrals: "Referrals", relapses: "Relapses",
    },
    parts: {
      low: "Low", moderate: "Moderate", high: "High",
      tobacco: "Tobacco", alcohol: "Alcohol", cannabis: "Cannabis", cocaine: "Cocaine",
      amphetamine_type_stimulants: "Amphetamine-type stimulants", inhalants: "Inhalants", sedatives: "Sedatives",
      hallucinogens: "Hallucinogens", opioids: "Opioids", other: "Other",
      voluntary: "Voluntary", compulsory: "Compulsory", aftercare: "Aftercare",
      completed: "Completed", dropped_out: "Dropped out", referred_out: "Referred out", moved: "Moved",
      died: "Died", withdrawn: "Withdrawn",
      klinik_pratama: "Primary clinic", balai_rehabilitasi: "Rehabilitation centre", loka_rehabilitasi: "Rehabilitation unit",
      rumah_sakit: "Hospital", ipwl: "IPWL",
      self_report: "Self-report", family_report: "Family report", agent_observation: "Agent observation",
      urine_test: "Urine test", rescreening: "Re-screening",
      awareness: "Awareness", mapping: "Mapping", outreach: "Outreach", screening_day: "Screening day",
    },
    months: ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
    days: "days",
  },
};

let lang = "id";

export function setLanguage(code) {
  lang = code === "en" ? "en" : "id";
  document.documentElement.lang = lang;
}

export function language() {
  return lang;
}

export function t() {
  return WORDS[lang];
}

export function part(name) {
  return WORDS[lang].parts[name] ?? name;
}

function locale() {
  return lang === "id" ? "id-ID" : "en-GB";
}

/** 1.401 in Indonesian, 1,401 in English. */
export function number(value, digits = 0) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

/** A share (0.4213) as a percentage: 42,1 % / 42.1%. */
export function percent(share) {
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(share);
}

export function dateTime(iso) {
  if (!iso) return WORDS[lang].noFigure;
  const d = new Date(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

export function duration(ms) {
  const hours = ms / 3_600_000;
  if (hours < 48) return `${number(hours, 1)} ${lang === "id" ? "jam" : "h"}`;
  return `${number(hours / 24, 0)} ${WORDS[lang].days}`;
}
