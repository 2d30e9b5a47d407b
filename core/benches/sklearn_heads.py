"""scikit-learn's figures and fit times on a latents file, for comparison with daecf.

Usage: python3 core/benches/sklearn_heads.py [../shared/data/retinamnist_dae_latents.npz]
(needs numpy and scikit-learn; not part of CI).
"""
import sys
import warnings
import time

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.svm import SVC

warnings.filterwarnings("ignore")  # lbfgs stops at max_iter=100, as the paper's table did
path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/retinamnist_dae_latents.npz"
data = np.load(path)
x, g = data["train_latents"], data["train_labels"]
xv, gv = data["val_latents"], data["val_labels"]
y, yv = (g > 0).astype(int), (gv > 0).astype(int)

for name, make in [("svm", lambda: SVC(kernel="linear", C=1.0)),
                   ("logreg", lambda: LogisticRegression(C=1.0))]:
    times = []
    for _ in range(5):
        clf = make()
        t0 = time.perf_counter()
        clf.fit(x, y)
        times.append(time.perf_counter() - t0)
    n, b = clf.coef_[0], clf.intercept_[0]
    norm = np.linalg.norm(n)
    d, dv = (x @ n + b) / norm, (xv @ n + b) / norm
    cal = LinearRegression().fit(d[:, None], g)
    cont = cal.predict(dv[:, None])
    raw = np.rint(cont).astype(int)
    clipped = np.clip(raw, g.min(), g.max())
    pred = clf.predict(xv)
    print(f"{name}: fit {min(times):.3f} s (best of 5) "
          f"auc_hard {roc_auc_score(yv, pred):.3f} auc {roc_auc_score(yv, clf.decision_function(xv)):.3f} "
          f"f1 {f1_score(yv, pred):.3f} acc {accuracy_score(yv, pred):.3f} "
          f"mae {np.abs(cont - gv).mean():.3f} mae_rounded {np.abs(clipped - gv).mean():.3f} "
          f"macro_f1 {f1_score(gv, clipped, average='macro'):.3f} "
          f"macro_f1_unclipped {f1_score(gv, raw, average='macro'):.3f} "
          f"calib slope {cal.coef_[0]:.4f} intercept {cal.intercept_:.4f}")
