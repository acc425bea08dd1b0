// The public page at "/public": one fetch of /api/v1/public/latest (cacheable for a minute, so
// many readers cost the server little), refreshed every minute; cards per air station and river
// section with their latest readings and when they were measured, in Chinese or English. AQI and
// the water class have their place on each card and fill in once the server computes them.
"use strict";

(function () {
  const TEXT = {
    zh: {
      title: "环境质量实时公开", intro: "各监测站点、断面的最新监测值", air: "空气质量",
      water: "地表水水质", updated: "更新于", measured: "监测时间", aqi: "空气质量指数 AQI",
      waterClass: "水质类别", pending: "待发布", none: "暂无数据", station: "空气自动监测站",
      section: "水质监测断面", district: "区", switchTo: "English", error: "数据加载失败：",
    },
    en: {
      title: "Environmental quality, live", intro: "Latest readings of every station and river section",
      air: "Air quality", water: "Surface water quality", updated: "updated", measured: "measured",
      aqi: "Air Quality Index (AQI)", waterClass: "Water class", pending: "coming soon",
      none: "no data yet", station: "air monitoring station", section: "water monitoring section",
      district: "", switchTo: "中文", error: "Could not load the data: ",
    },
  };
  const METRICS = {
    pm25: { zh: "PM2.5", en: "PM2.5", unit: "μg/m³" },
    pm10: { zh: "PM10", en: "PM10", unit: "μg/m³" },
    o3: { zh: "臭氧 O₃", en: "Ozone O₃", unit: "μg/m³" },
    no2: { zh: "二氧化氮 NO₂", en: "NO₂", unit: "μg/m³" },
    so2: { zh: "二氧化硫 SO₂", en: "SO₂", unit: "μg/m³" },
    co: { zh: "一氧化碳 CO", en: "CO", unit: "mg/m³" },
    nh3n: { zh: "氨氮 NH₃-N", en: "Ammonia N (NH₃-N)", unit: "mg/L" },
    cod: { zh: "化学需氧量 COD", en: "COD", unit: "mg/L" },
    codmn: { zh: "高锰酸盐指数", en: "Permanganate index", unit: "mg/L" },
    do: { zh: "溶解氧", en: "Dissolved oxygen", unit: "mg/L" },
    tp: { zh: "总磷", en: "Total phosphorus", unit: "mg/L" },
    tn: { zh: "总氮", en: "Total nitrogen", unit: "mg/L" },
    ph: { zh: "pH", en: "pH", unit: "" },
  };
  // Chongqing's districts by their tag values; others are shown as tagged.
  const DISTRICTS = {
    jiulongpo: "九龙坡区", yuzhong: "渝中区", shapingba: "沙坪坝区", hechuan: "合川区",
    jiangbei: "江北区", nanan: "南岸区", yubei: "渝北区", banan: "巴南区", dadukou: "大渡口区",
    beibei: "北碚区",
  };
  const REFRESH_MS = 60000;
  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem("jialing.lang") === "en" ? "en" : "zh";
  let sites = null, fetchedAt = null;
  window.jialingPublic = { ready: false, lang: () => lang };

  // Times in China Standard Time; the year only when it is not this year's.
  function fmtTime(ms) {
    const opts = { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", hourCycle: "h23" };
    const year = (t) => new Intl.DateTimeFormat("en", { timeZone: "Asia/Shanghai", year: "numeric" }).format(new Date(t));
    if (year(ms) !== year(Date.now())) opts.year = "numeric";
    return new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", opts).format(new Date(ms));
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function render() {
    const t = TEXT[lang];
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t.title;
    for (const n of document.querySelectorAll("[data-i18n]")) n.textContent = t[n.dataset.i18n];
    $("lang").textContent = t.switchTo;
    $("updated").textContent = fetchedAt ? t.updated + " " + fmtTime(fetchedAt) : "";
    for (const kind of ["air", "water"]) {
      const box = $(kind);
      box.textContent = "";
      const list = (sites || []).filter((s) => s.kind === kind);
      if (!list.length) box.append(el("p", "empty", t.none));
      for (const s of list) box.append(card(s, t));
    }
  }

  function card(s, t) {
    const c = el("article", "site");
    c.dataset.site = s.site;
    c.append(el("h3", "", s.site));
    const district = s.district ? (lang === "zh" ? DISTRICTS[s.district] || s.district : s.district) : "";
    c.append(el("div", "where", [district, s.kind === "air" ? t.station : t.section].filter(Boolean).join(" · ")));
    // The place for AQI (air) or the water class: filled once the server sends them.
    const idx = el("div", "index");
    idx.dataset.index = s.kind === "air" ? "aqi" : "water_class";
    const value = s.kind === "air" ? s.aqi : s.water_class;
    idx.append(el("span", "", s.kind === "air" ? t.aqi : t.waterClass));
    idx.append(el("b", "", value === null || value === undefined ? "—" : String(value)));
    if (value === null || value === undefined) idx.append(el("span", "unit", t.pending));
    c.append(idx);
    const table = el("table");
    let newest = 0;
    for (const r of s.readings) {
      const m = METRICS[r.metric] || { zh: r.metric, en: r.metric, unit: "" };
      const tr = table.insertRow();
      tr.dataset.metric = r.metric;
      tr.insertCell().textContent = m[lang];
      const v = tr.insertCell();
      v.className = "num";
      const b = el("b", "value", String(r.value));
      v.append(b, " ", el("span", "unit", m.unit));
      const w = tr.insertCell();
      w.className = "when";
      w.textContent = fmtTime(r.time);
      w.title = t.measured;
      newest = Math.max(newest, r.time);
    }
    c.append(table);
    return c;
  }

  async function load() {
    try {
      const r = await fetch("/api/v1/public/latest");
      const body = await r.json();
      if (!r.ok) throw new Error(body.error || r.status);
      sites = body.sites;
      fetchedAt = Date.now();
      $("error").hidden = true;
    } catch (e) {
      $("error").hidden = false;
      $("error").textContent = TEXT[lang].error + e.message;
    }
    render();
    window.jialingPublic.ready = true;
  }

  $("lang").onclick = () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("jialing.lang", lang);
    render();
  };
  render();
  load();
  setInterval(load, REFRESH_MS);
})();
