-- sqlite3 (in-memory database): a table, 2,000 rows inserted in one
-- transaction, an index, a few queries, an update and a delete.
CREATE TABLE orders (
  id       INTEGER PRIMARY KEY,
  customer INTEGER NOT NULL,
  item     TEXT    NOT NULL,
  qty      INTEGER NOT NULL,
  price    REAL    NOT NULL,
  note     TEXT
);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO orders (id, customer, item, qty, price, note)
SELECT i,
       (i * 7919) % 997,
       'item-' || ((i * 104729) % 5003),
       1 + (i * 31) % 17,
       ((i * 2654435761) % 100000) / 100.0,
       substr('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod', 1 + i % 40, 10 + i % 30)
FROM n;
COMMIT;
CREATE INDEX orders_customer ON orders (customer, price);
CREATE INDEX orders_item ON orders (item);
SELECT count(*), sum(qty), round(avg(price), 2) FROM orders;
SELECT customer, count(*) AS n, round(sum(qty * price), 2) AS total
  FROM orders GROUP BY customer ORDER BY total DESC LIMIT 5;
SELECT item, count(*) FROM orders WHERE item LIKE 'item-12%' GROUP BY item ORDER BY 2 DESC, 1 LIMIT 5;
SELECT o.id, o.price FROM orders o WHERE o.customer = 42 ORDER BY o.price LIMIT 10;
SELECT a.customer, count(*) FROM orders a JOIN orders b ON a.customer = b.customer AND a.id < b.id
  WHERE a.customer < 20 GROUP BY a.customer ORDER BY a.customer LIMIT 5;
UPDATE orders SET price = price * 1.1 WHERE qty > 10;
DELETE FROM orders WHERE customer % 7 = 0;
SELECT count(*), round(sum(price), 2) FROM orders;
