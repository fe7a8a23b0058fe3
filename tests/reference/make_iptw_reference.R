# Reference values for the IPTW estimands and the whole-pipeline bootstrap
# (nethep/robustness/weighting.py, nethep/robustness/iptw_bootstrap.py), from R.
#
#   estimands   glm(surgical ~ islet + liver + age, binomial); ATT weights (1 for surgical,
#               e / (1 - e) for non-surgical) and stabilized ATE weights (P(surgical) / e,
#               (1 - P(surgical)) / (1 - e)); coxph(Surv(t, d) ~ surgical, weights = w,
#               robust = TRUE, ties = "efron"); propensity range per arm; SMD after
#               weighting (cov.wt(method = "unbiased"), as make_robustness_reference.R)
#               and Kish's effective sample size per arm; the ATT with its weights
#               truncated at their 1st/99th percentiles (quantile type 7)
#   resamples   25 bootstrap resamples drawn here (set.seed(20061001); sample() within
#               each arm, so arm sizes stay fixed), their 1-based row indices, and for
#               each the whole pipeline refitted on the resampled rows (duplicated rows
#               kept as rows): glm, weights, coxph coefficient of surgical (ATT and ATE).
#               A resample with no surgical death has no finite coefficient: null.
#
# Usage, from the repository root:
#
#   Rscript tests/reference/make_iptw_reference.R
#
# reads data/cohort.csv and writes tests/reference/iptw.json next to this script; no
# timestamps or paths are written (same bytes on a rerun with the same R and survival).

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R
d <- cohort_frame(read_cohort())

# propensity_fit, iptw_weights, truncate_weights, smd and kish: setup.R (shared with
# make_robustness_reference.R).

fit_estimand <- function(dd, estimand, truncate = FALSE) {
  pw <- iptw_weights(dd, estimand)
  if (truncate) pw$w <- truncate_weights(pw$w)$w
  fit <- coxph(Surv(t, d) ~ surgical, data = cbind(dd, wt = pw$w), weights = wt,
               robust = TRUE, ties = "efron")
  s <- summary(fit)
  list(coef = unname(coef(fit)), se_robust = unname(sqrt(fit$var[1, 1])),
       hr = unname(s$conf.int[1, "exp(coef)"]), lower = unname(s$conf.int[1, "lower .95"]),
       upper = unname(s$conf.int[1, "upper .95"]), weights = pw$w, ps = pw$ps,
       ps_range_surgical = range(pw$ps[dd$surgical == 1]),
       ps_range_nonsurgical = range(pw$ps[dd$surgical == 0]),
       max_weight = max(pw$w),
       smd_after = list(`tumor_type=islet_cell` = smd(dd$islet, dd$surgical, pw$w, TRUE),
                        liver_involvement_pct = smd(dd$liver, dd$surgical, pw$w, FALSE),
                        age_years = smd(dd$age, dd$surgical, pw$w, FALSE)),
       ess = list(surgical = kish(pw$w[dd$surgical == 1]),
                  nonsurgical = kish(pw$w[dd$surgical == 0])))
}

set.seed(20061001)
treated <- which(d$surgical == 1)
control <- which(d$surgical == 0)
resamples <- lapply(seq_len(25), function(b) {
  idx <- c(treated[sample.int(length(treated), replace = TRUE)],
           control[sample.int(length(control), replace = TRUE)])
  dd <- d[idx, ]
  deaths_surgical <- sum(dd$d[dd$surgical == 1])
  coef_of <- function(estimand) {
    if (deaths_surgical == 0) return(NULL)
    pw <- iptw_weights(dd, estimand)
    fit <- coxph(Surv(t, d) ~ surgical, data = cbind(dd, wt = pw$w), weights = wt,
                 ties = "efron", control = coxph.control(eps = 1e-12, iter.max = 100))
    unname(coef(fit))
  }
  list(index = idx, deaths_surgical = deaths_surgical, att = coef_of("ATT"),
       ate = coef_of("ATE"))
})

out <- list(
  note = "R glm + coxph(weights, robust = TRUE, ties = 'efron'); see make_iptw_reference.R",
  r_version = paste(R.version$major, R.version$minor, sep = "."),
  survival_version = as.character(packageVersion("survival")),
  att = fit_estimand(d, "ATT"),
  ate = fit_estimand(d, "ATE"),
  att_truncated = fit_estimand(d, "ATT", truncate = TRUE),
  resamples = resamples
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "iptw.json")
