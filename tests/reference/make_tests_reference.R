# Reference values for the hypothesis tests nethep reports on the bundled cohort
# (Table 1, palliation, log-rank), computed with R's stats and survival packages.
#
# Data set: ../../data/cohort.csv, the bundled nethep cohort (48 patients).
#
#   table_one      for each Table 1 variable, by treatment_group:
#     continuous   liver_involvement_pct, age_years, months_to_treatment (patients under
#                  observation excluded: they had no treatment; their value is empty):
#                  kruskal.test(x ~ g) (chi-squared approximation with the tie
#                  correction): statistic, df, P; and per group median(x)
#     categorical  tumor_type, sex, symptomatic and liver_involvement_category
#                  (cut(liver_involvement_pct, c(-Inf, 25, 50, 75, Inf), right = FALSE)):
#                  the levels x groups table with all-zero rows and columns dropped;
#                  chisq.test(m, correct = FALSE): statistic, df, P, smallest expected
#                  count; fisher.test(m)$p.value (Fisher-Freeman-Halton, network algorithm)
#   palliation     symptomatic patients only: palliated yes / no by group (2 x 3);
#                  chisq.test(correct = FALSE): statistic, df, P, expected counts;
#                  fisher.test P; per group binom.test(k, n)$conf.int (Clopper-Pearson 95%)
#   logrank        survdiff(Surv(followup_months, died) ~ g) (rho = 0) for the arm
#                  (surgical vs nonsurgical) and the 3 treatment groups: chisq, df, P,
#                  observed and expected per group
#   pairwise_logrank  survival has no pairwise_survdiff: survdiff on each pair of
#                  treatment groups (medical, embolization, surgical order), then
#                  p.adjust(p, method = "holm") over the 3 pairs
#   followup       median, min and max of followup_months (the simple follow-up summary)
#   landmark_12    results.json's extra landmark (12 months; 3 and 6 are in
#                  robustness.json): patients with followup_months > 12, exposure surgical
#                  & months_to_treatment <= 12, coxph(Surv(t - 12, d) ~ s, ties = "efron")
#   rmst_difference  summary(survfit(Surv(t, d) ~ arm), rmean = tau)$table, tau 36 and 60:
#                  difference surgical - nonsurgical and its normal 95% CI from the two
#                  se(rmean), as nethep reports it
#
# Usage: `make reference` (runs every make_*.R from tests/reference), or from anywhere
#   Rscript tests/reference/make_tests_reference.R
# writes tests/reference/tests.json next to this script. All paths are relative to
# tests/reference. The output holds versions but no dates or absolute paths, so a rerun
# on the same R and package versions gives identical bytes. jsonlite's digits = NA
# writes 15 significant digits; NA and NaN are written as null.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R

cohort <- read_cohort()
groups <- c("medical", "embolization", "surgical")
cohort$g <- factor(cohort$treatment_group, levels = groups)
cohort$arm <- ifelse(cohort$treatment_group == "surgical", "surgical", "nonsurgical")
cohort$liver_involvement_category <- as.character(cut(
  cohort$liver_involvement_pct, breaks = c(-Inf, 25, 50, 75, Inf), right = FALSE,
  labels = c("<25", "25-49", "50-74", ">=75")))

num <- function(x) I(as.numeric(x))

# ---- Table 1 ------------------------------------------------------------------------

continuous <- function(column, exclude = rep(FALSE, nrow(cohort))) {
  d <- cohort[!exclude, ]
  kw <- kruskal.test(d[[column]] ~ d$g)
  present <- groups[groups %in% unique(d$treatment_group[!is.na(d[[column]])])]
  list(variable = column, test = "kruskal.test(x ~ treatment_group)",
       n = sum(!is.na(d[[column]])), n_excluded = sum(exclude),
       statistic = unname(kw$statistic), df = unname(kw$parameter), p = kw$p.value,
       groups = I(present),
       median = setNames(lapply(present, function(l)
         median(d[[column]][d$treatment_group == l], na.rm = TRUE)), present))
}

categorical <- function(column, levels) {
  m <- table(factor(cohort[[column]], levels = levels), cohort$g)
  m <- m[rowSums(m) > 0, colSums(m) > 0, drop = FALSE]
  storage.mode(m) <- "integer"
  cs <- suppressWarnings(chisq.test(m, correct = FALSE))
  list(variable = column,
       test = "chisq.test(m, correct = FALSE); fisher.test(m)",
       levels = I(rownames(m)), groups = I(colnames(m)),
       table = unclass(m),
       chi2_statistic = unname(cs$statistic), chi2_df = unname(cs$parameter),
       chi2_p = cs$p.value, chi2_min_expected = min(cs$expected),
       fisher_p = fisher.test(m)$p.value)
}

table_one <- list(
  continuous = list(
    continuous("liver_involvement_pct"),
    continuous("age_years"),
    continuous("months_to_treatment", exclude = cohort$treatment == "observation")
  ),
  categorical = list(
    categorical("tumor_type", c("carcinoid", "islet_cell")),
    categorical("sex", c("female", "male")),
    categorical("symptomatic", c(1, 0)),
    categorical("liver_involvement_category", c("<25", "25-49", "50-74", ">=75"))
  )
)

# ---- palliation ------------------------------------------------------------------------

sym <- cohort[cohort$symptomatic == 1, ]
pal <- rbind(yes = tapply(sym$palliated == 1, sym$g, sum),
             no = tapply(sym$palliated == 0, sym$g, sum))
storage.mode(pal) <- "integer"
pal_chisq <- suppressWarnings(chisq.test(pal, correct = FALSE))
palliation <- list(
  test = "chisq.test(m, correct = FALSE); fisher.test(m); binom.test(k, n)$conf.int",
  groups = I(colnames(pal)), table = unclass(pal),
  chi2_statistic = unname(pal_chisq$statistic), chi2_df = unname(pal_chisq$parameter),
  chi2_p = pal_chisq$p.value, expected = unclass(pal_chisq$expected),
  chi2_min_expected = min(pal_chisq$expected),
  n_expected_below_5 = sum(pal_chisq$expected < 5),
  fisher_p = fisher.test(pal)$p.value,
  rate = setNames(lapply(colnames(pal), function(l) {
    k <- pal["yes", l]
    n <- k + pal["no", l]
    ci <- binom.test(k, n, conf.level = 0.95)$conf.int
    list(n_palliated = unname(k), n_symptomatic = unname(n), rate = unname(k / n),
         lower = ci[1], upper = ci[2])
  }), colnames(pal))
)

# ---- log-rank --------------------------------------------------------------------------

survdiff_block <- function(d, by, levels) {
  f <- factor(d[[by]], levels = levels)
  sd <- survdiff(Surv(d$followup_months, d$died) ~ f)
  list(by = by, test = "survdiff(Surv(followup_months, died) ~ factor(by))",
       levels = I(levels), n = num(sd$n), observed = num(sd$obs), expected = num(sd$exp),
       chisq = sd$chisq, df = length(levels) - 1L, p = sd$pvalue)
}

logrank <- list(
  arm = survdiff_block(cohort, "arm", c("nonsurgical", "surgical")),
  treatment_group = survdiff_block(cohort, "treatment_group", groups)
)

pairs <- combn(groups, 2, simplify = FALSE)
pairwise <- lapply(pairs, function(p) {
  d <- cohort[cohort$treatment_group %in% p, ]
  s <- survdiff_block(d, "treatment_group", p)
  list(group_a = p[1], group_b = p[2], chisq = s$chisq, df = s$df, p = s$p)
})
p_holm <- p.adjust(vapply(pairwise, function(x) x$p, 0), method = "holm")
for (i in seq_along(pairwise)) pairwise[[i]]$p_holm <- p_holm[i]
pairwise_logrank <- list(
  test = paste("survdiff on each pair of treatment groups;",
               "p.adjust(p, method = \"holm\") over the pairs"),
  pairs = pairwise
)

# ---- follow-up, landmark at 12 months, RMST difference -----------------------------------

followup <- list(median = median(cohort$followup_months),
                 min = min(cohort$followup_months), max = max(cohort$followup_months))

landmark_12 <- local({
  L <- 12
  s <- cohort[cohort$followup_months > L, ]
  s$surg_l <- as.numeric(s$treatment_group == "surgical" & !is.na(s$months_to_treatment) &
                           s$months_to_treatment <= L)
  fit <- coxph(Surv(followup_months - L, died) ~ surg_l, data = s, ties = "efron")
  sm <- summary(fit)
  list(at_months = L, n = nrow(s), events = sum(s$died), n_surgical = sum(s$surg_l),
       test = "coxph(Surv(t - 12, d) ~ surgical at 12 months, ties = \"efron\")",
       coef = unname(coef(fit)), se = unname(sqrt(fit$var[1, 1])),
       hr = unname(exp(coef(fit))), lower = unname(sm$conf.int[1, "lower .95"]),
       upper = unname(sm$conf.int[1, "upper .95"]),
       p = unname(sm$coefficients[1, "Pr(>|z|)"]))
})

km_arm <- survfit(Surv(followup_months, died) ~ arm, data = cohort)
rmst_difference <- lapply(c(36, 60), function(tau) {
  tab <- summary(km_arm, rmean = tau)$table
  s1 <- unname(tab["arm=surgical", "rmean"])
  s0 <- unname(tab["arm=nonsurgical", "rmean"])
  se <- sqrt(unname(tab["arm=surgical", "se(rmean)"])^2 +
               unname(tab["arm=nonsurgical", "se(rmean)"])^2)
  z <- qnorm(0.975)
  list(tau = tau, surgical = s1, nonsurgical = s0, diff = s1 - s0, se_diff = se,
       lower = s1 - s0 - z * se, upper = s1 - s0 + z * se)
})

out <- list(
  generator = "tests/reference/make_tests_reference.R",
  r_version_string = R.version.string,
  r_version = paste0(R.version$major, ".", R.version$minor),
  survival_version = as.character(packageVersion("survival")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  data = "../../data/cohort.csv",
  n = nrow(cohort),
  conventions = list(
    tables = "contingency tables are written row by row (rows = levels, columns = groups)",
    chisq = "Pearson chi-square without continuity correction (correct = FALSE)",
    missing = "R's NA and NaN are written as null"
  ),
  table_one = table_one,
  palliation = palliation,
  logrank = logrank,
  pairwise_logrank = pairwise_logrank,
  followup = followup,
  landmark_12 = landmark_12,
  rmst_difference = rmst_difference
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null",
                  null = "null", matrix = "rowmajor"),
           "tests.json", useBytes = TRUE)
message("wrote ", file.path(script_dir, "tests.json"))
