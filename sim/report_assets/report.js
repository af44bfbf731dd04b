// The script of an mmusim report page: draws the charts described by the page's data block
// with Chart.js (inlined before this script), makes the tables marked "sortable" sortable, and
// records on <body> what it did: data-charts (charts drawn), data-blank (canvases left without
// a single painted pixel) and data-errors (errors seen, counted by the guard at the top of the
// page); once the page has loaded, data-resources (files or addresses the page asked the
// browser for, loaded or not: none, for a page that holds everything it needs). Everything is
// drawn at once, without animation, so the page is complete at load.
(function () {
    'use strict';

    var palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
                   '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39'];

    function axis(title, stacked) {
        return {
            stacked: stacked,
            beginAtZero: true,
            title: { display: title !== '', text: title }
        };
    }

    function chartConfig(spec) {
        var line = spec.type === 'line';
        var datasets = spec.datasets.map(function (d, i) {
            var color = palette[i % palette.length];
            return {
                label: d.label,
                data: d.data,
                backgroundColor: color,
                borderColor: color,
                borderWidth: line ? 2 : 0,
                pointRadius: line ? 3 : 0,
                spanGaps: false
            };
        });
        var x = axis(spec.x, spec.stacked);
        delete x.beginAtZero;
        return {
            type: line ? 'line' : 'bar',
            data: { labels: spec.labels, datasets: datasets },
            options: {
                animation: false,
                responsive: true,
                maintainAspectRatio: false,
                plugins: {
                    title: { display: true, text: spec.title },
                    legend: {
                        display: datasets.length > 1 || spec.stacked,
                        position: 'bottom',
                        labels: { boxWidth: 12, font: { size: 11 } }
                    }
                },
                scales: { x: x, y: axis(spec.y, spec.stacked) }
            }
        };
    }

    // True when some pixel of the canvas is not fully transparent.
    function painted(canvas) {
        if (canvas.width === 0 || canvas.height === 0) return false;
        var pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (var i = 3; i < pixels.length; i += 4) {
            if (pixels[i] !== 0) return true;
        }
        return false;
    }

    // The sort key of a cell: its number (data-v) when it has one, else its text; '-' (no
    // value) sorts after everything else in either direction.
    function sortKey(cell) {
        var v = cell.getAttribute('data-v');
        if (v === '') return null;
        if (v !== null && !isNaN(Number(v))) return Number(v);
        return cell.textContent;
    }

    function makeSortable(table) {
        var heads = table.tHead.rows[0].cells;
        Array.prototype.forEach.call(heads, function (th, column) {
            th.title = 'sort by this column';
            th.addEventListener('click', function () {
                var ascending = th.getAttribute('aria-sort') !== 'ascending';
                Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
                th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
                var body = table.tBodies[0];
                var rows = Array.prototype.slice.call(body.rows);
                rows.sort(function (a, b) {
                    var ka = sortKey(a.cells[column]), kb = sortKey(b.cells[column]);
                    if (ka === null || kb === null) return (ka === null) - (kb === null);
                    var order;
                    if (typeof ka === 'number' && typeof kb === 'number') order = ka - kb;
                    else order = String(ka).localeCompare(String(kb));
                    return ascending ? order : -order;
                });
                rows.forEach(function (r) { body.appendChild(r); });
            });
        });
    }

    function draw() {
        var drawn = 0;
        var data = JSON.parse(document.getElementById('report-data').textContent);
        if (typeof Chart !== 'function') {
            console.error('mmusim report: the chart library did not load');
        } else {
            Chart.defaults.animation = false;
            Chart.defaults.font.family = 'DejaVu Sans, Arial, sans-serif';
            data.charts.forEach(function (spec, i) {
                var canvas = document.getElementById('chart-' + i);
                if (canvas === null) {
                    console.error('mmusim report: no canvas for chart ' + i);
                    return;
                }
                try {
                    new Chart(canvas, chartConfig(spec));
                    drawn += 1;
                } catch (e) {
                    console.error('mmusim report: chart ' + i + ' (' + spec.title + '): ' + e);
                }
            });
        }
        Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), makeSortable);
        var blank = 0;
        Array.prototype.forEach.call(document.querySelectorAll('canvas'), function (canvas) {
            if (!painted(canvas)) blank += 1;
        });
        document.body.setAttribute('data-charts', String(drawn));
        document.body.setAttribute('data-blank', String(blank));
        document.body.setAttribute('data-errors', String(window.mmusimReportErrors));
    }

    window.addEventListener('load', function () {
        var resources = window.performance ? window.performance.getEntriesByType('resource').length : -1;
        document.body.setAttribute('data-resources', String(resources));
    });

    try {
        draw();
    } catch (e) {
        console.error('mmusim report: ' + e);
        document.body.setAttribute('data-errors', String(window.mmusimReportErrors));
    }
})();
