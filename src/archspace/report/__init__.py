"""Study reports: an HTML page with PNG figures and a JSON summary of a study file.

:mod:`~archspace.report.data` reads the file (read-only use, nothing replayed),
:mod:`~archspace.report.figures` draws, :mod:`~archspace.report.page` writes the HTML and
:mod:`~archspace.report.build` puts them in a folder.
"""

from archspace.report.build import FILES, write_report
from archspace.report.data import ReportData, gather

__all__ = ["FILES", "ReportData", "gather", "write_report"]
