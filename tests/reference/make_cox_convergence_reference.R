# Reference values showing how far R's default stopping rule leaves coxph from the
# maximum of the partial likelihood (nethep/cox.py iterates to full convergence).
#
# Data set (written as CSV under data/): cox_convergence_mgus2, survival::mgus2
# (monoclonal gammopathy; Kyle et al. 2002) complete cases of futime, death, age, sex,
# hgb, creat: time (months), event (death), age (years), male (sex == "M"), hgb (g/dL),
# creat (mg/dL). Among the eight survival data sets of an independent check (colon,
# flchain, rotterdam, mgus2, nwtco, cgd, retinopathy, pbc) this model gave the largest
# difference from nethep.
#
# Model: coxph(Surv(time, event) ~ age + male + hgb + creat, ties = "breslow"), fitted
# with R's default coxph.control(eps = 1e-9) and with eps = 1e-12 (R warns that
# toler.chol should then be below eps; the fit is unaffected). For each: coef, se, Wald
# P, iterations.
#
# Usage: `make reference` (runs every make_*.R from tests/reference), or from anywhere
#   Rscript tests/reference/make_cox_convergence_reference.R
# All paths are relative to tests/reference. The output holds versions but no dates or
# absolute paths, so a rerun on the same R and survival versions gives identical bytes.
# jsonlite's digits = NA writes 15 significant digits.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R

m <- na.omit(survival::mgus2[, c("futime", "death", "age", "sex", "hgb", "creat")])
df <- data.frame(time = m$futime, event = m$death, age = m$age,
                 male = as.integer(m$sex == "M"), hgb = m$hgb, creat = m$creat)
csv <- file.path("data", "cox_convergence_mgus2.csv")
write.csv(df, csv, row.names = FALSE)
terms <- c("age", "male", "hgb", "creat")

fit_block <- function(eps) {
  fit <- suppressWarnings(coxph(Surv(time, event) ~ age + male + hgb + creat, data = df,
                                ties = "breslow", control = coxph.control(eps = eps)))
  s <- summary(fit)$coefficients
  list(eps = eps, iterations = fit$iter, coef = unname(coef(fit)),
       se = unname(s[, "se(coef)"]), p = unname(s[, "Pr(>|z|)"]))
}

out <- list(
  generator = "tests/reference/make_cox_convergence_reference.R",
  r_version_string = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  csv = csv, terms = I(terms), ties = "breslow", n = nrow(df), events = sum(df$event),
  default = fit_block(1e-9),
  tight = fit_block(1e-12)
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "cox_convergence.json",
           useBytes = TRUE)
message("wrote ", file.path(script_dir, "cox_convergence.json"), " and ", csv)
