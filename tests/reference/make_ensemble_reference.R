# Reference values for data/ensemble/quantities.csv (issue 11), from R's survival package.
#
# For members 1-48 of data/ensemble/members.csv.gz (one member of each of the 48 design
# cells), every quantity that R computes, by the definitions of
# nethep/reconstruct/quantities.py:
#
#   hr, hr_lower, hr_upper, cox_wald_p   coxph(Surv(t, d) ~ surgical), Efron ties, Wald CI
#   cox_score_p                          summary(coxph)$sctest (score test at beta = 0)
#   logrank_p                            survdiff(Surv(t, d) ~ surgical)
#   rmst36_*                             summary(survfit, rmean = 36)$table[, "rmean"]
#   median_*                             quantile(survfit, 0.5) (NA: not reached)
#   s12_*, s60_*                         summary(survfit, times); NA past the last follow-up
#   deaths_*, first_death_surgical_months, palliation_*   plain counts and proportions
#   adjusted_hr                          coxph(~ surgical + islet + liver + age)
#   iptw_hr                              glm(surgical ~ islet + liver + age, binomial), ATT
#                                        weights (1 surgical, e/(1-e) others),
#                                        coxph(~ surgical, weights = w)
#   landmark3_hr, landmark6_hr           coxph on t > L, surgical if operated by L, time t - L
#   tipping_earliest, tipping_worst      survdiff after censored surgical patients die
#
# coxph runs with eps = 1e-12 (R's default 1e-9 stops before the maximum; see
# nethep/cox.py). A Cox coefficient beyond 10 in absolute value (no finite maximum)
# is written as null, which nethep reports as not estimable.
#
# Usage, from the repository root: Rscript tests/reference/make_ensemble_reference.R
# writes tests/reference/ensemble.json; no timestamps, same bytes on rerun.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R
members <- read.csv(gzfile(file.path(script_dir, "..", "..", "data", "ensemble",
                                     "members.csv.gz")),
                    stringsAsFactors = FALSE, na.strings = "")
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)
finite_hr <- function(fit) {
  b <- unname(coef(fit)[1])
  if (is.na(b) || abs(b) > 10) NA else exp(b)
}

km_at <- function(t, d, at) {
  fit <- survfit(Surv(t, d) ~ 1)
  if (at > max(t) && min(fit$surv) > 0) return(NA)
  summary(fit, times = at, extend = TRUE)$surv
}

lr_p <- function(t, d, s) {
  sd <- survdiff(Surv(t, d) ~ s)
  pchisq(sd$chisq, 1, lower.tail = FALSE)
}

tipping <- function(t, d, s) {
  cens <- which(s == 1 & d == 0)
  cens <- cens[order(t[cens])]
  earliest <- NA
  for (k in 0:length(cens)) {
    dk <- d
    dk[cens[seq_len(k)]] <- 1
    if (lr_p(t, dk, s) >= 0.05) { earliest <- k; break }
  }
  worst <- earliest
  if (!is.na(earliest) && earliest > 1) {
    for (k in 1:(earliest - 1)) {
      sets <- combn(cens, k, simplify = FALSE)
      hit <- any(vapply(sets, function(idx) { dk <- d; dk[idx] <- 1; lr_p(t, dk, s) >= 0.05 },
                        logical(1)))
      if (hit) { worst <- k; break }
    }
  }
  c(earliest = earliest, worst = worst)
}

one <- function(m) {
  t <- m$followup_months; d <- m$died; s <- as.integer(m$treatment_group == "surgical")
  islet <- as.integer(m$tumor_type == "islet_cell"); liver <- m$liver_involvement_pct
  age <- m$age_years; mtt <- m$months_to_treatment
  out <- list()
  fit <- coxph(Surv(t, d) ~ s, control = ctl)
  sm <- summary(fit)
  out$hr <- sm$conf.int[1, "exp(coef)"]
  out$hr_lower <- sm$conf.int[1, "lower .95"]
  out$hr_upper <- sm$conf.int[1, "upper .95"]
  out$cox_wald_p <- sm$coefficients[1, "Pr(>|z|)"]
  out$cox_score_p <- unname(sm$sctest["pvalue"])
  out$logrank_p <- lr_p(t, d, s)
  for (arm in c("surgical", "nonsurgical")) {
    sel <- if (arm == "surgical") s == 1 else s == 0
    f <- survfit(Surv(t[sel], d[sel]) ~ 1)
    out[[paste0("rmst36_", arm)]] <- unname(summary(f, rmean = 36)$table["rmean"])
    out[[paste0("deaths_", arm)]] <- sum(d[sel])
    out[[paste0("median_", arm)]] <- unname(quantile(f, 0.5, conf.int = FALSE))
    out[[paste0("s12_", arm)]] <- km_at(t[sel], d[sel], 12)
    out[[paste0("s60_", arm)]] <- km_at(t[sel], d[sel], 60)
  }
  out$rmst36_diff <- out$rmst36_surgical - out$rmst36_nonsurgical
  out$first_death_surgical_months <- if (any(s == 1 & d == 1)) min(t[s == 1 & d == 1]) else NA
  out$adjusted_hr <- finite_hr(coxph(Surv(t, d) ~ s + islet + liver + age, control = ctl))
  ps <- fitted(glm(s ~ islet + liver + age, family = binomial,
                   control = glm.control(epsilon = 1e-14, maxit = 100)))
  w <- ifelse(s == 1, 1, ps / (1 - ps))
  out$iptw_hr <- finite_hr(suppressWarnings(coxph(Surv(t, d) ~ s, weights = w, control = ctl)))
  for (L in c(3, 6)) {
    keep <- t > L
    sl <- as.integer(s == 1 & !is.na(mtt) & mtt <= L)[keep]
    hr <- if (length(unique(sl)) < 2) NA else
      finite_hr(suppressWarnings(coxph(Surv(t[keep] - L, d[keep]) ~ sl, control = ctl)))
    out[[paste0("landmark", L, "_hr")]] <- hr
  }
  for (g in c("medical", "embolization", "surgical")) {
    sel <- m$treatment_group == g & m$symptomatic == 1
    out[[paste0("palliation_", g)]] <- mean(m$palliated[sel])
  }
  tp <- tipping(t, d, s)
  out$tipping_earliest <- unname(tp["earliest"])
  out$tipping_worst <- unname(tp["worst"])
  out
}

ids <- 1:48
result <- list(
  generator = "tests/reference/make_ensemble_reference.R",
  r_version = paste(R.version$major, R.version$minor, sep = "."),
  survival_version = as.character(packageVersion("survival")),
  members = lapply(ids, function(j) c(list(member = j), one(members[members$member == j, ])))
)
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           file.path(script_dir, "ensemble.json"))
