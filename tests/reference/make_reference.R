# Reference values for nethep/survival.py, computed with R's survival package.
#
# Data sets (written as CSV under data/, columns time, event, group and, where a
# set has a second grouping, one more column):
#   lung      survival::lung (NCCTG advanced lung cancer; Loprinzi et al. 1994):
#             time (days), status recoded 2 = dead -> 1, 1 = censored -> 0, sex as group
#   veteran   survival::veteran (Veterans' Administration lung cancer trial;
#             Kalbfleisch and Prentice 1980): time, status, trt as group, celltype
#   ovarian   survival::ovarian (ovarian cancer trial; Edmonson et al. 1979):
#             futime, fustat, rx as group
#   cohort    ../../data/cohort.csv, the bundled nethep cohort: followup_months,
#             died, treatment_group as group, arm (surgical vs nonsurgical)
#   edge_*    hand-built edge cases (heavy ties, a group with no events, a single
#             patient in a group, last observation censored, all censored, all
#             die, a curve exactly at 0.5 on a flat segment, events at time 0)
#
# For every data set, overall and per group:
#   summary(survfit(Surv(time, event) ~ 1, conf.type = ct), times, extend = FALSE)
#     and the same with extend = TRUE, for ct in "log-log" and "log"
#   quantile(fit, c(0.25, 0.5, 0.75)) with CI, and summary(fit)$table
#     (median, 0.95LCL, 0.95UCL), for both conf types
#   reverse Kaplan-Meier (Surv(time, 1 - event)): quantile(0.25, 0.5, 0.75), table median
#   survdiff (rho = 0): chisq, df (print.survdiff's rule), pvalue, obs, exp, var
#   coxph(ties = "efron") of a 0/1 indicator: coef, se, HR, CI, Wald P, and
#   cox.zph(fit, transform = "km") as this survival version computes it, together
#   with the pre-3.0 cox.zph statistic (transcribed from survival 2.44-1.1, below).
#
# Usage: `make reference` (runs this file from tests/reference), or from anywhere
#   Rscript tests/reference/make_reference.R
# All paths are relative to tests/reference. The output holds no dates or absolute
# paths, so a rerun on the same R and survival versions gives identical bytes.
# jsonlite's digits = NA writes 15 significant digits; NA and NaN are written as null.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R
dir.create("data", showWarnings = FALSE)

# ---------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------

lung_df <- data.frame(
  time = survival::lung$time,
  event = as.integer(survival::lung$status == 2),
  group = ifelse(survival::lung$sex == 1, "male", "female")
)
veteran_df <- data.frame(
  time = survival::veteran$time,
  event = as.integer(survival::veteran$status),
  group = ifelse(survival::veteran$trt == 1, "standard", "test"),
  celltype = as.character(survival::veteran$celltype)
)
ovarian_df <- data.frame(
  time = survival::ovarian$futime,
  event = as.integer(survival::ovarian$fustat),
  group = paste0("rx", survival::ovarian$rx)
)
cohort_raw <- read_cohort()
cohort_df <- data.frame(
  patient_id = cohort_raw$patient_id,
  time = cohort_raw$followup_months,
  event = as.integer(cohort_raw$died),
  group = cohort_raw$treatment_group,
  arm = ifelse(cohort_raw$treatment_group == "surgical", "surgical", "nonsurgical")
)

edge <- function(time, event, group = rep("all", length(time))) {
  data.frame(time = time, event = as.integer(event), group = group)
}

datasets <- list(
  list(name = "lung",
       source = "survival::lung (NCCTG advanced lung cancer); status 2 = dead -> event 1",
       df = lung_df, groupings = "group",
       times = c(0, 2.5, 5, 11, 30, 100, 180, 183, 365, 500, 730, 883, 965, 1000, 1022,
                 1100, 2000),
       cox = list(column = "group", level = "female")),
  list(name = "veteran",
       source = "survival::veteran (Veterans' Administration lung cancer trial)",
       df = veteran_df, groupings = c("group", "celltype"),
       times = c(0, 0.5, 1, 7, 30, 90, 100, 180, 365, 500, 553, 587, 991, 999, 1000, 1500),
       cox = list(column = "group", level = "test")),
  list(name = "ovarian",
       source = "survival::ovarian (ovarian cancer trial, Edmonson et al. 1979)",
       df = ovarian_df, groupings = "group",
       times = c(0, 30, 59, 100, 268, 365, 500, 638, 730, 1000, 1129, 1206, 1227, 1300),
       cox = list(column = "group", level = "rx2")),
  list(name = "cohort",
       source = "data/cohort.csv (nethep bundled cohort): followup_months, died, treatment_group, arm",
       df = cohort_df, groupings = c("group", "arm"),
       times = c(0, 1, 6, 12, 24, 36, 48, 60, 84, 120, 200),
       cox = list(column = "arm", level = "surgical")),
  list(name = "edge_heavy_ties",
       source = "hand-built: heavy ties (several events and censorings at each time)",
       df = edge(c(1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 4, 6, 6,
                   1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 5, 5, 6, 6),
                 c(1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0,
                   1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0),
                 rep(c("A", "B"), each = 14)),
       groupings = "group", times = "all",
       cox = list(column = "group", level = "B")),
  list(name = "edge_group_no_events",
       source = "hand-built: group B has no events",
       df = edge(c(1, 2, 3, 4, 5, 6, 7, 8, 2, 3.5, 5, 6.5, 9, 10),
                 c(1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0),
                 rep(c("A", "B"), c(8, 6))),
       groupings = "group", times = "all", cox = NULL),
  list(name = "edge_single_patient_group",
       source = "hand-built: group C holds a single patient (an event)",
       df = edge(c(1, 3, 3, 5, 6, 8, 9, 12, 2, 4, 4, 7, 10, 11, 4),
                 c(1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1),
                 c(rep("A", 8), rep("B", 6), "C")),
       groupings = "group", times = "all", cox = NULL),
  list(name = "edge_last_censored",
       source = "hand-built: the last observation in each group is censored",
       df = edge(c(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1.5, 2.5, 3.5, 6.5, 12),
                 c(1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0),
                 rep(c("A", "B"), c(10, 5))),
       groupings = "group", times = "all",
       cox = list(column = "group", level = "B")),
  list(name = "edge_all_censored",
       source = "hand-built: no events at all",
       df = edge(c(1, 2, 3, 5, 8), c(0, 0, 0, 0, 0)),
       groupings = character(0), times = "all", cox = NULL),
  list(name = "edge_all_die",
       source = "hand-built: every patient dies; S(t) reaches 0 at the last time (a tie)",
       df = edge(c(1, 2, 2, 3, 4, 4), c(1, 1, 1, 1, 1, 1)),
       groupings = character(0), times = "all", cox = NULL),
  list(name = "edge_median_flat_half",
       source = "hand-built: S(t) = 0.5 on a flat segment (4 to 7), then drops",
       df = edge(c(1, 2, 3, 4, 5, 6, 7, 8), c(1, 1, 1, 1, 0, 0, 1, 0)),
       groupings = character(0), times = "all", cox = NULL),
  list(name = "edge_median_ends_half",
       source = "hand-built: S(t) = 0.5 from t = 2 to the last (censored) follow-up at 4",
       df = edge(c(1, 2, 3, 4), c(1, 1, 0, 0)),
       groupings = character(0), times = "all", cox = NULL),
  list(name = "edge_time_zero",
       source = "hand-built: an event and a censoring at time 0",
       df = edge(c(0, 0, 1, 2, 3, 4, 5), c(1, 0, 1, 0, 1, 1, 0)),
       groupings = character(0), times = "all", cox = NULL)
)

# ---------------------------------------------------------------------------------
# Estimates
# ---------------------------------------------------------------------------------

num <- function(x) I(as.numeric(x))

query_times <- function(spec, df) {
  tt <- sort(unique(df$time))
  extra <- c(0, min(tt) / 2, tt[1], max(tt), max(tt) + 1, 2 * max(tt) + 1)
  for (g in spec$groupings) {
    extra <- c(extra, tapply(df$time, df[[g]], max), tapply(df$time, df[[g]], min))
  }
  if (identical(spec$times, "all")) {
    mids <- if (length(tt) > 1) (tt[-1] + tt[-length(tt)]) / 2 else numeric(0)
    base <- c(tt, mids)
  } else {
    base <- spec$times
  }
  sort(unique(c(base, extra)))
}

km_summary <- function(fit, times, extend) {
  s <- summary(fit, times = times, extend = extend)
  list(time = num(s$time), n_risk = num(s$n.risk), surv = num(s$surv),
       std_err = num(s$std.err), lower = num(s$lower), upper = num(s$upper))
}

km_block <- function(time, event, times) {
  out <- list(n = length(time), events = sum(event))
  for (ct in c("log-log", "log")) {
    fit <- survfit(Surv(time, event) ~ 1, conf.type = ct)
    q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
    tab <- summary(fit)$table
    out[[ct]] <- list(
      summary = km_summary(fit, times, extend = FALSE),
      summary_extend = km_summary(fit, times, extend = TRUE),
      quantile = list(probs = num(c(0.25, 0.5, 0.75)), quantile = num(q$quantile),
                      lower = num(q$lower), upper = num(q$upper)),
      table = list(median = unname(tab["median"]), lower = unname(tab["0.95LCL"]),
                   upper = unname(tab["0.95UCL"]))
    )
  }
  out
}

reverse_km <- function(time, event) {
  fit <- survfit(Surv(time, 1 - event) ~ 1)
  q <- quantile(fit, probs = c(0.25, 0.5, 0.75), conf.int = FALSE)
  list(probs = num(c(0.25, 0.5, 0.75)), quantile = num(q),
       table_median = unname(summary(fit)$table["median"]))
}

logrank <- function(df, column) {
  g <- factor(df[[column]])
  sd <- survdiff(Surv(df$time, df$event) ~ g)
  list(column = column, levels = I(levels(g)), n = num(sd$n), observed = num(sd$obs),
       expected = num(sd$exp), variance = unname(sd$var), chisq = sd$chisq,
       df = sum(sd$exp > 0) - 1, p = sd$pvalue)
}

# cox.zph as survival 2.44-1.1 computed it (the test before survival 3.0), transcribed
# for one covariate: scaled Schoenfeld residuals against the left-continuous
# Kaplan-Meier transform, with the variance approximated by var(beta) * events.
legacy_zph <- function(fit) {
  sresid <- resid(fit, "schoenfeld")
  ndead <- length(sresid)
  y <- fit$y
  km <- survfit(Surv(y[, 1], y[, 2]) ~ 1, se.fit = FALSE)
  t1 <- km$surv[km$n.event > 0]
  t2 <- km$n.event[km$n.event > 0]
  ttimes <- 1 - rep(c(1, t1), c(t2, 0))
  xx <- ttimes - mean(ttimes)
  r2 <- sresid * fit$var[1, 1] * ndead
  z <- sum(xx * r2)^2 / (fit$var[1, 1] * ndead * sum(xx^2))
  list(chisq = z, p = 1 - pchisq(z, 1), rho = cor(xx, r2))
}

cox_block <- function(df, column, level) {
  x <- as.integer(df[[column]] == level)
  fit <- coxph(Surv(df$time, df$event) ~ x, ties = "efron")
  s <- summary(fit)
  zph <- cox.zph(fit, transform = "km")
  legacy <- legacy_zph(fit)
  list(
    column = column, level = level, n = fit$n, events = fit$nevent,
    coef = unname(coef(fit)), se = unname(sqrt(fit$var[1, 1])),
    hr = unname(exp(coef(fit))),
    lower = unname(s$conf.int[1, "lower .95"]), upper = unname(s$conf.int[1, "upper .95"]),
    z = unname(s$coefficients[1, "z"]), p = unname(s$coefficients[1, "Pr(>|z|)"]),
    loglik = num(fit$loglik), iterations = fit$iter,
    zph = list(method = paste0("cox.zph(fit, transform = \"km\") from survival ",
                               packageVersion("survival")),
               chisq = unname(zph$table["x", "chisq"]), df = unname(zph$table["x", "df"]),
               p = unname(zph$table["x", "p"])),
    zph_legacy = list(method = paste("survival 2.44-1.1 cox.zph(transform = \"km\")",
                                     "formula, transcribed in legacy_zph() and evaluated",
                                     "on this coxph fit's Schoenfeld residuals"),
                      chisq = legacy$chisq, p = legacy$p, rho = legacy$rho)
  )
}

results <- lapply(datasets, function(spec) {
  df <- spec$df
  csv <- file.path("data", paste0(spec$name, ".csv"))
  write.csv(df, csv, row.names = FALSE)
  times <- query_times(spec, df)
  groups <- list()
  for (column in spec$groupings) {
    levs <- sort(unique(df[[column]]))
    groups[[column]] <- setNames(lapply(levs, function(l) {
      keep <- df[[column]] == l
      km_block(df$time[keep], df$event[keep], times)
    }), levs)
  }
  list(
    name = spec$name, source = spec$source, csv = csv, n = nrow(df),
    events = sum(df$event), times = num(times), groupings = I(spec$groupings),
    km = km_block(df$time, df$event, times),
    km_by = if (length(groups)) groups else setNames(list(), character(0)),
    reverse_km = reverse_km(df$time, df$event),
    survdiff = setNames(lapply(spec$groupings, function(g) logrank(df, g)), spec$groupings),
    coxph = if (is.null(spec$cox)) NULL else cox_block(df, spec$cox$column, spec$cox$level)
  )
})
names(results) <- vapply(datasets, function(d) d$name, "")

out <- list(
  generator = "tests/reference/make_reference.R",
  r_version_string = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  conventions = list(
    summary = "summary(fit, times, extend = FALSE): times beyond the last follow-up are omitted",
    summary_extend = "summary(fit, times, extend = TRUE): every requested time",
    std_err = "standard error of S(t) (summary.survfit), not of the cumulative hazard",
    missing = "R's NA and NaN are written as null"
  ),
  datasets = results
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null",
                  null = "null"),
           "survival_reference.json", useBytes = TRUE)
message("wrote ", file.path(script_dir, "survival_reference.json"), " and ",
        length(datasets), " CSV files under ", file.path(script_dir, "data"))
